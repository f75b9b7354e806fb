// The benchmark's own helpers (scripts/bench.sh). Standard library only;
// not part of go.work: build with GOWORK=off. baseline/ is a module of its own.
module github.com/oauth2ref/scripts/bench

go 1.26.0
