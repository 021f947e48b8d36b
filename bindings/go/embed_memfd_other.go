//go:build !linux

package pyrt

func memfdPath(data []byte) (string, func(), error) { return "", nil, errNoMemfd }
