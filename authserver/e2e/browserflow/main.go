// Command browserflow signs in and out of a running system in a real
// headless Chromium, the way a person would: the webapp's home page, the
// authserver's login and consent pages, back on the webapp greeted by name
// with the times read from the resource server, then "Sign out", which the
// authserver asks about (RP-Initiated Logout). scripts/compose-test.sh
// runs it against the containers:
//
//	go run ./authserver/e2e/browserflow -webapp http://localhost:5003 -authserver http://localhost:5001
//
// It is a program and not a test on purpose. A test in authserver/e2e that
// ran only when given base URLs would show up as skipped in every normal run
// of ./scripts/test.sh, which reads like a missing feature; a build tag
// would hide it from go vet and the linters. A program is compiled (and
// vetted) with the rest of the module, runs only when asked, and takes
// its addresses as flags. It lives in the authserver module because that
// module already requires chromedp for authserver/e2e's browser test.
//
// It proves what a browser sees. Whether signing out also revoked the
// refresh token at the authserver is for the caller to check in the
// services' logs (the authserver's token.revoked audit event, and no
// "revocation failed" warning from the webapp).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "browserflow:", err)
		os.Exit(1)
	}
}

// options is what the command line says.
type options struct {
	webapp, authserver string
	username, password string
	chromium           string
	timeout            time.Duration
	// maxSkew is how far the times the webapp shows may be from this
	// machine's clock (the containers share it).
	maxSkew time.Duration
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.webapp, "webapp", "http://localhost:5003", "the webapp's base URL, as the browser reaches it")
	fs.StringVar(&o.authserver, "authserver", "http://localhost:5001", "the authserver's base URL (its issuer), as the browser reaches it")
	fs.StringVar(&o.username, "username", "alice", "the user who signs in")
	fs.StringVar(&o.password, "password", "alice-password", "their password")
	fs.StringVar(&o.chromium, "chromium", getenv("CHROMIUM"), "Chromium's path (default: chromium, chromium-browser or google-chrome on PATH)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "bound on the whole flow")
	fs.DurationVar(&o.maxSkew, "max-skew", 2*time.Minute, "how far the times shown may be from this machine's clock")
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.webapp = strings.TrimRight(o.webapp, "/")
	o.authserver = strings.TrimRight(o.authserver, "/")
	browser, err := findChromium(o.chromium)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "browserflow-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(profile) }()

	// The flags every headless Chromium here needs: no sandbox as root, and
	// none of the background traffic that a closed network refuses.
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(900, 700),
	)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	bctx, cancelTimeout := context.WithTimeout(bctx, o.timeout)
	defer cancelTimeout()

	f := &flow{ctx: bctx, o: o, out: stdout}
	if err := f.run(); err != nil {
		return f.explain(err)
	}
	return nil
}

// flow is one browser going through the steps.
type flow struct {
	ctx context.Context
	o   options
	out io.Writer
}

const (
	signInButton  = `//a[contains(., "Sign in with authserver")] | //button[contains(., "Sign in with authserver")]`
	signOutButton = `//button[contains(., "Sign out")]`
	allowButton   = `//button[@value="allow"]`
	// logoutButton is the authserver's "Sign out" on its question.
	logoutButton = `//button[@value="logout"]`
)

func (f *flow) step(format string, args ...any) {
	_, _ = fmt.Fprintf(f.out, "  ok  "+format+"\n", args...)
}

func (f *flow) run() error {
	o := f.o
	// 1. The webapp, signed out.
	if err := chromedp.Do(f.ctx, chromedp.Navigate(o.webapp+"/"), chromedp.WaitVisible(signInButton)); err != nil {
		return fmt.Errorf("the webapp's home page shows no sign-in button: %w", err)
	}
	f.step("webapp %s/ offers to sign in", o.webapp)

	// 2. Sign in: the authserver's login page.
	if err := chromedp.Do(f.ctx, chromedp.Click(signInButton), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		return fmt.Errorf("no login form after \"Sign in with authserver\": %w", err)
	}
	if loc := f.location(); !strings.HasPrefix(loc, o.authserver+"/oauth/login") {
		return fmt.Errorf("signing in led to %s, not the authserver's login page at %s/oauth/login", loc, o.authserver)
	}
	f.step("redirected to the authserver's login page")

	// 3. Log in; consent, unless the authserver remembers it already.
	if err := chromedp.Do(f.ctx,
		chromedp.SendKeys(chromedp.ID("username"), o.username),
		chromedp.SendKeys(chromedp.ID("password"), o.password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(allowButton+" | "+signOutButton),
	); err != nil {
		return fmt.Errorf("after logging in as %s: neither a consent page nor the signed-in webapp: %w", o.username, err)
	}
	if strings.HasPrefix(f.location(), o.authserver+"/") {
		if err := chromedp.Do(f.ctx, chromedp.Click(allowButton), chromedp.WaitVisible(signOutButton)); err != nil {
			return fmt.Errorf("allowing on the consent page did not sign in to the webapp: %w", err)
		}
		f.step("logged in as %s and allowed the webapp on the consent page", o.username)
	} else {
		f.step("logged in as %s (consent remembered)", o.username)
	}

	// 4. Back on the webapp, showing both times from the resource server.
	if loc := f.location(); !strings.HasPrefix(loc, o.webapp+"/") {
		return fmt.Errorf("signed in, but on %s instead of the webapp", loc)
	}
	if err := f.checkTimes(); err != nil {
		return err
	}
	greeting, err := chromedp.Run(f.ctx, chromedp.Text(chromedp.CSS("p.greeting")))
	if err != nil {
		return fmt.Errorf("signed in, reading the greeting: %w", err)
	}
	if !strings.HasPrefix(greeting, "Hello, ") || greeting == "Hello, you." {
		return fmt.Errorf("signed in, but not greeted by name (OpenID Connect's UserInfo): %q", greeting)
	}
	f.step("back on the webapp, signed in, %q, showing the current and epoch time", greeting)

	// 5. Sign out: the webapp forgets the session (and revokes its refresh
	// token at the authserver, which the caller checks in the logs), and
	// sends the browser to the authserver, which asks whether to sign out
	// there too, and then back home.
	if err := chromedp.Do(f.ctx, chromedp.Click(signOutButton), chromedp.WaitVisible(logoutButton)); err != nil {
		return fmt.Errorf("\"Sign out\" did not lead to the authserver's question: %w", err)
	}
	if loc := f.location(); !strings.HasPrefix(loc, o.authserver+"/oauth/end_session") {
		return fmt.Errorf("signing out led to %s, not the authserver's %s/oauth/end_session", loc, o.authserver)
	}
	f.step("asked by the authserver whether to sign out there too")
	if err := chromedp.Do(f.ctx, chromedp.Click(logoutButton), chromedp.WaitVisible(signInButton)); err != nil {
		return fmt.Errorf("signing out at the authserver did not lead back to the signed-out home page: %w", err)
	}
	if loc := f.location(); loc != o.webapp+"/" {
		return fmt.Errorf("signing out led to %s, not %s/", loc, o.webapp)
	}
	n, err := chromedp.Run(f.ctx, chromedp.Evaluate[int](`document.querySelectorAll("dl.times").length`))
	if err != nil {
		return fmt.Errorf("signed out, reading the page: %w", err)
	}
	if n != 0 {
		return fmt.Errorf("signed out, the page still shows times (%d)", n)
	}
	f.step("signed out")
	return nil
}

// checkTimes reads the <time datetime> values of the signed-in home page:
// two of them, each close to now, and no problem reported.
func (f *flow) checkTimes() error {
	problems, err := chromedp.Run(f.ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(".problem")).map(e => e.textContent.trim())`))
	if err != nil {
		return fmt.Errorf("reading the home page: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the signed-in home page reports a problem: %s", strings.Join(problems, "; "))
	}
	stamps, err := chromedp.Run(f.ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("dl.times time")).map(e => e.getAttribute("datetime"))`))
	if err != nil {
		return fmt.Errorf("reading the times: %w", err)
	}
	if len(stamps) != 2 {
		return fmt.Errorf("the signed-in home page shows %d times, want 2 (current and epoch)", len(stamps))
	}
	now := time.Now()
	for _, s := range stamps {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("time %q on the home page: %w", s, err)
		}
		if d := t.Sub(now).Abs(); d > f.o.maxSkew {
			return fmt.Errorf("time %s on the home page is %s away from now", s, d.Round(time.Second))
		}
	}
	return nil
}

func (f *flow) location() string {
	loc, err := chromedp.Run(f.ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// explain adds where the browser was and what it showed to a failure, and
// keeps a screenshot of it outside the profile directory.
func (f *flow) explain(err error) error {
	// The flow's context may be what ran out; look with a fresh bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(f.ctx), 10*time.Second)
	defer cancel()
	var b strings.Builder
	b.WriteString(err.Error())
	if loc, lerr := chromedp.Run(ctx, chromedp.Location()); lerr == nil {
		fmt.Fprintf(&b, "\n  page: %s", loc)
	}
	if text, terr := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"), chromedp.NodeReady)); terr == nil {
		fmt.Fprintf(&b, "\n  text: %s", strings.Join(strings.Fields(text), " "))
	}
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(90)); serr == nil {
		shot := filepath.Join(os.TempDir(), fmt.Sprintf("browserflow-%d.png", time.Now().Unix()))
		if os.WriteFile(shot, png, 0o600) == nil {
			fmt.Fprintf(&b, "\n  screenshot: %s", shot)
		}
	}
	return errors.New(b.String())
}

// findChromium returns the browser to run: the given path or name, else the
// first of the usual names on PATH.
func findChromium(given string) (string, error) {
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	if given != "" {
		names = []string{given}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found (tried %s); install Debian's chromium or set -chromium", strings.Join(names, ", "))
}
