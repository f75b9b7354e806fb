//go:build !linux

package faulttest

import "os/exec"

// dieWithParent does nothing where the kernel cannot do it for us; the
// test's cleanup still kills the child.
func dieWithParent(*exec.Cmd) {}
