module github.com/fanoutd/fanoutd/bench/redisconn

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.7.3
	github.com/redis/rueidis v1.0.80
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	golang.org/x/sys v0.50.0 // indirect
)

require github.com/fanoutd/fanoutd v0.0.0

replace github.com/fanoutd/fanoutd => ../..
