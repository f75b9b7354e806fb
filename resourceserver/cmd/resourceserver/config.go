package main

import (
	"errors"
	"time"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/zaplog"
)

// demoSecret is the development fixture's secret for the resourceserver
// client; production must never run with it.
const demoSecret = "resourceserver-secret"

// Config is the resource server's whole configuration: built-in defaults,
// then configs/resourceserver.<env>.json, then RESOURCESERVER_* environment
// variables (RESOURCESERVER_INTROSPECTION_ENDPOINT sets
// introspection.endpoint, and so on).
type Config struct {
	// Base holds http, metrics, log and runtime, as in every service.
	service.Base
	// Introspection says where and as whom to ask about tokens (RFC 7662).
	Introspection struct {
		Endpoint     string `json:"endpoint"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		// Timeout bounds each call, and so how long a request waits before
		// a down authorization server becomes a 503.
		Timeout config.Duration `json:"timeout"`
		// TLS.CAFile trusts a private CA for an https endpoint.
		TLS httpclient.TLSConfig `json:"tls"`
	} `json:"introspection"`
	// Audience is this server's name in tokens' "aud"; a token not naming
	// it is refused (RFC 9068 §4). "" accepts tokens for any audience.
	Audience string `json:"audience"`
}

func defaultConfig() Config {
	var c Config
	c.HTTP = httpserver.DefaultConfig(":5002")
	c.Log = zaplog.DefaultConfig()
	c.Introspection.Endpoint = "http://localhost:5001/oauth/introspect"
	c.Introspection.ClientID = "resourceserver"
	c.Introspection.ClientSecret = demoSecret
	c.Introspection.Timeout = config.Duration(2 * time.Second)
	c.Audience = "resourceserver"
	return c
}

// check holds the rules a schema cannot say, or cannot say clearly.
func (c Config) check(env string) error {
	if c.Introspection.ClientSecret == "" {
		return errors.New("config: introspection.client_secret is empty; set RESOURCESERVER_INTROSPECTION_CLIENT_SECRET")
	}
	if env == "production" && c.Introspection.ClientSecret == demoSecret {
		return errors.New("config: introspection.client_secret is the demo secret, which production must not use; set RESOURCESERVER_INTROSPECTION_CLIENT_SECRET")
	}
	return nil
}

// The client secret may be "" in the schema so that the production file
// can clear the demo default and check can then say what to set.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    ` + service.BaseSchema + `,
    "introspection": {
      "type": "object",
      "additionalProperties": false,
      "required": ["endpoint", "client_id"],
      "properties": {
        "endpoint": {"type": "string", "pattern": "^https?://[^?#\\s]+$"},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string"},
        "timeout": ` + config.DurationSchema + `,
        "tls": ` + httpclient.TLSSchema + `
      }
    },
    "audience": {"type": "string"}
  }
}`
