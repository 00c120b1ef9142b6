// Command usermod lives in a module of its own: the image package must build it in that module.
package main

import "fmt"

func main() { fmt.Println("hello from example.com/usermod") }
