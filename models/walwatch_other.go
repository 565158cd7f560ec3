//go:build !linux

package models

import "context"

const walHeaderWords = 6

func readWALHeader([]byte) (h [walHeaderWords]uint32) { return h }

// watchWAL is Linux-only: elsewhere AuthVersion reads auth_version at every
// call.
func (s *Store) watchWAL(context.Context) *walWatcher { return nil }
