//go:build !linux

package pipeline

// asBackground does nothing where threads have no priority of their own to lower.
func asBackground() bool { return false }
