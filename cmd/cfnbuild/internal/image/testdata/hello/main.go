// Command hello is a stand-in for the worker in the image package's tests: it prints a marker, its
// user id and its architecture.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Printf("hello from the image test: uid=%d arch=%s args=%q\n", os.Getuid(), runtime.GOARCH, os.Args[1:])
}
