package main

import (
	"errors"
	"strings"
	"time"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpserver"
)

// demoClientSecret is the development fixtures' secret for client 1234.
// Everyone who has read the README knows it, so production refuses it.
const demoClientSecret = "qwerty"

// Config is the webapp's whole configuration: built-in defaults, then
// configs/webapp.<env>.json, then WEBAPP_* environment variables
// (WEBAPP_HTTP_ADDR sets http.addr, WEBAPP_AUTHSERVER_CLIENT_SECRET sets
// authserver.client_secret, and so on).
type Config struct {
	HTTP httpserver.Config `json:"http"`
	Log  struct {
		Level       string `json:"level"`
		AccessLevel string `json:"access_level"`
	} `json:"log"`
	// AuthServer is where the webapp gets tokens, and the client it
	// authenticates as (client_secret_basic).
	AuthServer struct {
		TokenURL     string          `json:"token_url"`
		ClientID     string          `json:"client_id"`
		ClientSecret string          `json:"client_secret"`
		Timeout      config.Duration `json:"timeout"`
	} `json:"authserver"`
	ResourceServer struct {
		BaseURL string          `json:"base_url"`
		Timeout config.Duration `json:"timeout"`
	} `json:"resourceserver"`
	// DemoUser acts for requests without HTTP Basic credentials, so that a
	// bare `curl localhost:5003/current_time` works. An empty username
	// switches it off.
	DemoUser struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"demo_user"`
}

func defaultConfig() Config {
	var c Config
	c.HTTP = httpserver.DefaultConfig(":5003")
	c.Log.Level = "info"
	c.Log.AccessLevel = "info"
	c.AuthServer.TokenURL = "http://localhost:5001/oauth/token"
	c.AuthServer.ClientID = "1234"
	c.AuthServer.ClientSecret = demoClientSecret
	c.AuthServer.Timeout = config.Duration(3 * time.Second)
	c.ResourceServer.BaseURL = "http://localhost:5002"
	c.ResourceServer.Timeout = config.Duration(3 * time.Second)
	c.DemoUser.Username = "alice"
	c.DemoUser.Password = "alice-password"
	return c
}

// check enforces what the schema cannot say: positive timeouts (a zero one
// would mean no timeout at all, so a hung upstream would hang every caller),
// and no demo credentials in production.
func (c Config) check(env string) error {
	var problems []string
	if c.AuthServer.Timeout.D() <= 0 {
		problems = append(problems, "authserver.timeout must be positive")
	}
	if c.ResourceServer.Timeout.D() <= 0 {
		problems = append(problems, "resourceserver.timeout must be positive")
	}
	if env == "production" {
		switch c.AuthServer.ClientSecret {
		case "":
			problems = append(problems, "authserver.client_secret is empty: set WEBAPP_AUTHSERVER_CLIENT_SECRET")
		case demoClientSecret:
			problems = append(problems, "authserver.client_secret is the public demo secret, which production refuses: set WEBAPP_AUTHSERVER_CLIENT_SECRET")
		}
		if c.DemoUser.Username != "" {
			// Every request without credentials would act as this user.
			problems = append(problems, "demo_user is set, which production refuses: clear demo_user.username")
		}
	}
	if len(problems) > 0 {
		return errors.New("config: invalid: " + strings.Join(problems, "; "))
	}
	return nil
}

const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "http": ` + httpserver.ConfigSchema + `,
    "log": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "level": {"enum": ["debug", "info", "warn", "error"]},
        "access_level": {"enum": ["debug", "info", "warn", "error"]}
      }
    },
    "authserver": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "token_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string"},
        "timeout": ` + config.DurationSchema + `
      }
    },
    "resourceserver": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "base_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "timeout": ` + config.DurationSchema + `
      }
    },
    "demo_user": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"}
      },
      "if": {"properties": {"username": {"minLength": 1}}},
      "then": {"properties": {"password": {"minLength": 1}}}
    }
  }
}`
