//go:build !race

package redisbroker

const raceEnabled = false
