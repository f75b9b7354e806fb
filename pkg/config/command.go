package config

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/oauth2ref/pkg/schema"
)

// Command is what every service's command line says: where the config files
// are, which environment to pick, and the arguments left (a subcommand).
type Command struct {
	ConfigDir string
	Env       string
	// DirRequired is set when the directory was asked for explicitly, so a
	// typo in it is an error rather than a silent fall-back to defaults.
	DirRequired bool
	// DevTLS asks for HTTPS with a self-signed certificate made at start,
	// for trying TLS on one machine (-dev-tls).
	DevTLS bool
	Args   []string
}

// ParseCommand reads the flags every service shares: -config-dir (default
// $CONFIG_DIR, else "configs") and -env (default $APP_ENV, else
// "development"), and -dev-tls. usage is printed above the flags on -h and on errors;
// -h returns flag.ErrHelp.
func ParseCommand(name, usage string, args []string, getenv func(string) string, stderr io.Writer) (Command, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, usage) // help is best effort, as fs.PrintDefaults is
		fs.PrintDefaults()
	}
	dir := fs.String("config-dir", or(getenv("CONFIG_DIR"), "configs"), "directory of config files (env CONFIG_DIR)")
	env := fs.String("env", or(getenv("APP_ENV"), "development"), "environment: development, test or production (env APP_ENV)")
	devTLS := fs.Bool("dev-tls", false, "serve HTTPS with a self-signed certificate for localhost, made at start (not in production)")
	if err := fs.Parse(args[1:]); err != nil {
		return Command{}, err
	}
	explicit := getenv("CONFIG_DIR") != ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config-dir" {
			explicit = true
		}
	})
	if *devTLS && *env == "production" {
		return Command{}, errors.New("-dev-tls: a self-signed certificate is for development; production needs http.tls.cert_file and key_file")
	}
	return Command{ConfigDir: *dir, Env: *env, DirRequired: explicit, DevTLS: *devTLS, Args: fs.Args()}, nil
}

// Source is where service reads its config for this command: its file in
// the config directory, then the environment variables under envPrefix,
// all validated by s.
func (c Command) Source(service, envPrefix string, getenv func(string) string, s *schema.Schema) Source {
	return Source{Service: service, Env: c.Env, Dir: c.ConfigDir, DirRequired: c.DirRequired,
		EnvPrefix: envPrefix, Getenv: getenv, Schema: s}
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// LoadService is what every service's run does first: read the command
// line, then load dst (holding the defaults) from the config file of the
// chosen environment and the environment variables, validated by
// schemaJSON. It returns the command and the file read ("" if none);
// -h returns flag.ErrHelp.
func LoadService(service, envPrefix, usage, schemaJSON string, args []string, getenv func(string) string, stderr io.Writer, dst any) (Command, string, error) {
	cmd, err := ParseCommand(service, usage, args, getenv, stderr)
	if err != nil {
		return cmd, "", err
	}
	s, err := schema.Compile(service+"-config.json", []byte(schemaJSON))
	if err != nil {
		return cmd, "", err
	}
	file, err := Load(cmd.Source(service, envPrefix, getenv, s), dst)
	return cmd, file, err
}

// Loader loads one service's configuration: its defaults, overlaid by
// LoadService, then checked. Its Load is what a service reads at start and
// on every reload.
type Loader[C any] struct {
	Service   string // "webapp": the usage line and the config file's name
	EnvPrefix string // "WEBAPP": the environment variables' prefix
	Usage     string // "" is "usage: <service> [flags]"
	Schema    string // the JSON Schema every source is checked against
	Defaults  func() C
	// Check judges the loaded configuration as a whole, in the named
	// environment (development, test, production); nil accepts it.
	Check func(c C, env string) error
}

// Load reads the configuration from args, the file of the environment and
// the environment variables, and checks it. It returns the command line and
// the file read.
func (l Loader[C]) Load(args []string, getenv func(string) string, stderr io.Writer) (C, Command, string, error) {
	cfg := l.Defaults()
	usage := l.Usage
	if usage == "" {
		usage = "usage: " + l.Service + " [flags]\n\nflags:\n"
	}
	cmd, file, err := LoadService(l.Service, l.EnvPrefix, usage, l.Schema, args, getenv, stderr, &cfg)
	if err == nil && l.Check != nil {
		err = l.Check(cfg, cmd.Env)
	}
	return cfg, cmd, file, err
}
