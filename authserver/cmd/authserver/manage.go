package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/storage"
)

// `authserver clients …` and `authserver users …`: the admin use cases
// (authserver.Manage) on the configured stores, as the admin API runs
// them, without HTTP and without a running server. Passwords are read
// from stdin, never from the command line, where other users of the
// machine and the shell's history would see them.

const manageUsage = `usage:
  authserver clients list [-limit N] [-cursor C]
  authserver clients show ID
  authserver clients add -name NAME [-id ID] [-type confidential|public] [-grant G]... [-redirect-uri U]... [-scope S]...
  authserver clients rm ID
  authserver users list [-limit N] [-cursor C]
  authserver users add [-admin] NAME          (the password on stdin)
  authserver users set-password ID            (the password on stdin)
  authserver users rm ID`

// manage runs a clients or users command.
func manage(ctx context.Context, cfg Config, group string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	known := map[string]bool{"clients list": true, "clients show": true, "clients add": true, "clients rm": true,
		"users list": true, "users add": true, "users set-password": true, "users rm": true}
	if len(args) == 0 || !known[group+" "+args[0]] {
		return errors.New(manageUsage)
	}
	if storageConfig(cfg).Backend(storage.Clients) == storage.Memory || storageConfig(cfg).Backend(storage.Users) == storage.Memory {
		_, _ = fmt.Fprintln(stderr, "authserver: warning: clients or users are in memory storage, which this command alone holds: "+
			"its changes end with it (storage.default=postgres keeps them)")
	}
	set, err := storage.Open(ctx, storageConfig(cfg), storageEnv(cfg, zap.NewNop()))
	if err != nil {
		return err
	}
	defer set.Close()
	m, err := authserver.Manage(ctx, append(keyOptions(cfg),
		authserver.WithStores(set.Stores()),
		authserver.WithPasswordHashing(authserver.Argon2Params{
			MemoryKiB: cfg.Passwords.MemoryKiB, Time: cfg.Passwords.Time, Threads: cfg.Passwords.Threads,
		}, 1),
		authserver.WithPasswordPolicy(cfg.Browser.MinPasswordLength, cfg.Browser.MaxPasswordLength),
		authserver.WithSessionLimits(cfg.Browser.MaxSessionTTL.D(), cfg.Browser.SessionsPerUser),
	)...)
	if err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch group + " " + cmd {
	case "clients list":
		return listClients(ctx, m.Clients(), rest, stdout)
	case "clients show":
		id, err := oneArg("clients show ID", rest)
		if err != nil {
			return err
		}
		c, err := m.Clients().Get(ctx, id)
		if err != nil {
			return err
		}
		return printJSON(stdout, clientOut(c, ""))
	case "clients add":
		return addClient(ctx, m.Clients(), rest, stdout)
	case "clients rm":
		id, err := oneArg("clients rm ID", rest)
		if err != nil {
			return err
		}
		if err := m.Clients().Delete(ctx, id); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "deleted client %s: its tokens are inactive, its id is never a client's again\n", id)
		return err
	case "users list":
		return listUsers(ctx, m.Users(), rest, stdout)
	case "users add":
		return addUser(ctx, m.Users(), rest, stdin, stdout)
	case "users set-password":
		id, err := oneArg("users set-password ID", rest)
		if err != nil {
			return err
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		if err := m.Users().SetPassword(ctx, id, password); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "new password for user %s: every session and token of theirs has ended\n", id)
		return err
	case "users rm":
		id, err := oneArg("users rm ID", rest)
		if err != nil {
			return err
		}
		if err := m.Users().Delete(ctx, id); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "deleted user %s with every session and token of theirs\n", id)
		return err
	}
	return errors.New(manageUsage)
}

func oneArg(usage string, args []string) (string, error) {
	if len(args) != 1 || args[0] == "" {
		return "", errors.New("usage: authserver " + usage)
	}
	return args[0], nil
}

// many is a flag given any number of times.
type many []string

func (m *many) String() string     { return strings.Join(*m, ",") }
func (m *many) Set(v string) error { *m = append(*m, v); return nil }

// pageFlags parses -limit and -cursor.
func pageFlags(name string, args []string) (authserver.Page, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	limit := fs.Int("limit", 0, "entries per page, at most 100")
	cursor := fs.String("cursor", "", "the next_cursor of the page before")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return authserver.Page{}, fmt.Errorf("usage: authserver %s [-limit N] [-cursor C]", name)
	}
	return authserver.Page{Limit: *limit, Cursor: *cursor}, nil
}

func listClients(ctx context.Context, clients *authserver.Clients, args []string, stdout io.Writer) error {
	p, err := pageFlags("clients list", args)
	if err != nil {
		return err
	}
	page, err := clients.List(ctx, p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "ID\tTYPE\tMANAGED BY\tGRANTS\tNAME")
	for _, c := range page.Clients {
		out := clientOut(c, "")
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", out.ID, out.Type, out.ManagedBy, strings.Join(out.GrantTypes, ","), out.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return pageFooter(stdout, len(page.Clients), page.Total, page.Next, "clients list")
}

func listUsers(ctx context.Context, users *authserver.Users, args []string, stdout io.Writer) error {
	p, err := pageFlags("users list", args)
	if err != nil {
		return err
	}
	page, err := users.List(ctx, p)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "ID\tNAME\tADMIN\tDISABLED")
	for _, u := range page.Users {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%t\t%t\n", u.ID, u.Username, u.Admin, u.Disabled)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return pageFooter(stdout, len(page.Users), page.Total, page.Next, "users list")
}

func pageFooter(w io.Writer, n, total int, next, cmd string) error {
	if next == "" {
		_, err := fmt.Fprintf(w, "(%d of %d)\n", n, total)
		return err
	}
	_, err := fmt.Fprintf(w, "(%d of %d; next page: authserver %s -cursor %s)\n", n, total, cmd, next)
	return err
}

func addClient(ctx context.Context, clients *authserver.Clients, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("clients add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("id", "", "the client id (default: a random one)")
	name := fs.String("name", "", "the client's name, shown on the consent page")
	typ := fs.String("type", "confidential", "confidential or public")
	var grants, redirects, scopes many
	fs.Var(&grants, "grant", "a grant type it may use (repeat)")
	fs.Var(&redirects, "redirect-uri", "a redirect URI, matched exactly (repeat)")
	fs.Var(&scopes, "scope", "a scope it may ask for (repeat)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errors.New("usage: authserver clients add -name NAME [-id ID] [-type confidential|public] [-grant G]... [-redirect-uri U]... [-scope S]... (each -grant, -redirect-uri, -scope repeated as needed)")
	}
	spec := authserver.ClientSpec{Name: *name, Type: authserver.ClientType(*typ), RedirectURIs: redirects, Scopes: scopes}
	for _, g := range grants {
		spec.GrantTypes = append(spec.GrantTypes, authserver.Grant(g))
	}
	made, err := clients.Create(ctx, authserver.NewClient{ID: *id, ClientSpec: spec})
	if err != nil {
		return err
	}
	// The secret is printed this once, to whoever ran the command; it is
	// stored only as a hash.
	return printJSON(stdout, clientOut(made.Client, made.Secret))
}

func addUser(ctx context.Context, users *authserver.Users, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("users add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	admin := fs.Bool("admin", false, "the user administers the server (the admin API)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errors.New("usage: authserver users add [-admin] NAME   (the password on stdin)")
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	u, err := users.Create(ctx, authserver.NewUser{Username: fs.Arg(0), Password: password, Admin: *admin})
	if err != nil {
		return err
	}
	return printJSON(stdout, userOut{ID: u.ID, Name: u.Username, Admin: u.Admin, Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()})
}

// readPassword reads a password from the first line of stdin.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 8192)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password on stdin (echo it, or type it and press Enter)")
	}
	return password, nil
}

// clientJSON is a client as the commands print it: the admin API's shape.
type clientJSON struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Type         string    `json:"type"`
	Secret       string    `json:"client_secret,omitempty"`
	RedirectURIs []string  `json:"redirect_uris"`
	GrantTypes   []string  `json:"grant_types"`
	Scopes       []string  `json:"scopes"`
	ManagedBy    string    `json:"managed_by"`
	CreatedAt    time.Time `json:"created_at"`
}

func clientOut(c authserver.Client, secret string) clientJSON {
	out := clientJSON{ID: c.ID, Name: c.Name, Type: string(c.Type), Secret: secret, RedirectURIs: c.RedirectURIs,
		Scopes: c.Scopes, ManagedBy: "config", CreatedAt: c.CreatedAt.UTC()}
	if !c.ConfigManaged() {
		out.ManagedBy = string(c.ManagedBy)
	}
	for _, g := range c.GrantTypes {
		out.GrantTypes = append(out.GrantTypes, string(g))
	}
	return out
}

type userOut struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
