//go:build !linux

package health

import "errors"

func bindDevice(fd int, name string) error {
	return errors.New("source_interface is supported on Linux only")
}
