module github.com/oauth2ref/webapp

go 1.26

require github.com/oauth2ref/pkg v0.0.0

replace github.com/oauth2ref/pkg => ../pkg
