package faulttest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child if the test binary dies
// first (a go test timeout, say), so no server outlives its test.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
