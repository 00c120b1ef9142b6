package image

import "fmt"

// Architectures the image can be built for, named as in the ECS task definition's RuntimePlatform.
const (
	ArchX86_64 = "x86_64"
	ArchARM64  = "arm64"
)

// GoArch maps an architecture as the task definition names it (x86_64, arm64) to Go's and OCI's
// name (amd64, arm64).
func GoArch(arch string) (string, error) {
	switch arch {
	case ArchX86_64:
		return "amd64", nil
	case ArchARM64:
		return "arm64", nil
	}
	return "", fmt.Errorf("unknown architecture %q: use %s or %s", arch, ArchX86_64, ArchARM64)
}
