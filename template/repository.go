package template

import (
	"encoding/json"
	"fmt"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ecr"
)

// BuildRepository builds the image-repository stack: one private ECR repository that scans on push,
// keeps tags immutable (images are referred to by digest) and expires all but the newest
// cfg.ImagesToKeep images. It is a stack of its own, deployed before the main stack, because the
// image must exist before the main stack's task definition can name it by digest.
func BuildRepository(cfg Config) (*cloudformation.Template, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lifecycle, err := json.Marshal(map[string]any{
		"rules": []any{map[string]any{
			"rulePriority": 1,
			"description":  fmt.Sprintf("keep the newest %d images", cfg.ImagesToKeep),
			"selection": map[string]any{
				"tagStatus":   "any",
				"countType":   "imageCountMoreThan",
				"countNumber": cfg.ImagesToKeep,
			},
			"action": map[string]any{"type": "expire"},
		}},
	})
	if err != nil {
		return nil, err
	}
	t := cloudformation.NewTemplate()
	t.Description = "cfnbuild image repository: the worker image, pushed by digest before the main stack is deployed."
	t.Resources[LogicalRepository] = &ecr.Repository{
		ImageScanningConfiguration: &ecr.Repository_ImageScanningConfiguration{ScanOnPush: boolp(true)},
		ImageTagMutability:         str("IMMUTABLE"),
		EncryptionConfiguration:    &ecr.Repository_EncryptionConfiguration{EncryptionType: "AES256"},
		LifecyclePolicy:            &ecr.Repository_LifecyclePolicy{LifecyclePolicyText: str(string(lifecycle))},
		// Images are rebuilt from source at will; `cfnbuild destroy` should not stop at a full repository.
		EmptyOnDelete: boolp(true),
		// Named after the stack (ECR names are lower case: cfnbuild deploy requires a lower-case stack
		// name). Left unnamed, moto makes a name with capitals that its own ECR rejects.
		RepositoryName: str(sub("${AWS::StackName}")),
	}
	t.Outputs[OutputRepositoryURI] = cloudformation.Output{
		Value:       getAtt(LogicalRepository, "RepositoryUri"),
		Description: str("push the worker image here (cfnbuild push does)"),
	}
	t.Outputs[OutputRepositoryARN] = cloudformation.Output{Value: arn(LogicalRepository), Description: str("the repository's ARN")}
	t.Outputs[OutputRepositoryName] = cloudformation.Output{Value: ref(LogicalRepository), Description: str("the repository's name")}
	return t, nil
}
