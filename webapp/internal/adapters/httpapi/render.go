package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// homeData is what home.html shows.
type homeData struct {
	Title    string
	SignedIn bool
	// Name greets the signed-in user, "" if unknown.
	Name      string
	Notice    string
	CSRFToken string
	// Problem is a failure that kept every time from being read.
	Problem string
	Times   []timeRow
}

type timeRow struct {
	Label    string
	Value    string
	DateTime string // for <time datetime>
	Problem  string
}

// messageData is what message.html shows: a title, what happened, and
// where to go next.
type messageData struct {
	Title string
	Text  string
	// Detail is the use case's description, shown as text (html/template
	// escapes it, whatever an upstream put in it).
	Detail string
	// SignIn offers to sign in again.
	SignIn bool
}

var timeLabels = map[domain.TimeKind]string{
	domain.CurrentTime: "Current time",
	domain.EpochTime:   "Epoch time (seconds since 1970-01-01 UTC)",
}

// homeData turns the use case's view into the page, and picks its status:
// 503 when an upstream is down, 502 when one answered nonsense, else 200.
// The page says which service failed either way; it is never a bare error.
func (p *Pages) homeData(r *http.Request, v app.HomeView) (homeData, int) {
	d := homeData{Title: "Home", SignedIn: v.SignedIn, Name: v.Name, CSRFToken: string(v.CSRFToken)}
	if v.Ended {
		d.Notice = endedNotice
		zaplog.For(r.Context(), p.d.Log).Info("session ended: its grant is no longer accepted")
	}
	status := http.StatusOK
	worst := func(err error) {
		switch {
		case domain.CodeOf(err) == domain.Unavailable:
			status = http.StatusServiceUnavailable
		case status == http.StatusOK && !notGranted(err):
			status = http.StatusBadGateway
		}
	}
	if v.Err != nil {
		p.logUpstream(r.Context(), v.Err)
		d.Problem = problemText(v.Err) + " Your session could not be renewed, so your times could not be read."
		worst(v.Err)
	}
	for _, t := range v.Times {
		row := timeRow{Label: timeLabels[t.Kind]}
		switch {
		case t.Err != nil:
			p.logUpstream(r.Context(), t.Err)
			row.Problem = problemText(t.Err)
			worst(t.Err)
		case t.Kind == domain.EpochTime:
			row.Value = fmt.Sprint(t.Answer.Time.Unix())
			row.DateTime = t.Answer.Time.UTC().Format(time.RFC3339)
		default:
			row.Value = t.Answer.Time.Format(time.RFC3339)
			row.DateTime = row.Value
		}
		d.Times = append(d.Times, row)
	}
	return d, status
}

// notGranted reports whether the resource server refused a time for lack
// of scope: the user did not grant it, which is no upstream failure.
func notGranted(err error) bool { return domain.CodeOf(err) == domain.NotGranted }

// answeredWrong reports whether an upstream answered what it should not
// have: nonsense, or a refusal of a token it was just given.
func answeredWrong(err error) bool {
	switch domain.CodeOf(err) {
	case domain.BadGateway, domain.TokenRejected, domain.NotGranted:
		return true
	}
	return false
}

// problemText says, in a sentence, which service failed and how.
func problemText(err error) string {
	svc := domain.ServiceOf(err)
	name := string(svc)
	if name == "" {
		name = "webapp"
	}
	switch {
	case notGranted(err):
		return "Not granted: you did not allow this app to read this."
	case domain.CodeOf(err) == domain.Unavailable && svc == "":
		return "The webapp is busy right now. Try again in a moment."
	case domain.CodeOf(err) == domain.Unavailable:
		return "The " + name + " is unavailable right now. Try again in a moment."
	case answeredWrong(err):
		return "The " + name + " answered unexpectedly."
	}
	return "Something went wrong in the " + name + "."
}

// logUpstream logs an upstream failure shown on a page: a warning when the
// upstream is down (it heals by itself), an error when it answered
// nonsense (an operator must look).
func (p *Pages) logUpstream(ctx context.Context, err error) {
	var e *domain.Error
	if !errors.As(err, &e) {
		zaplog.For(ctx, p.d.Log).Error("internal error", zap.Error(err))
		return
	}
	fields := []zap.Field{zap.String("service", string(e.Service)), zap.Error(err)}
	switch {
	case e.Code == domain.Unavailable:
		zaplog.For(ctx, p.d.Log).Warn("upstream unavailable", fields...)
	case notGranted(err):
	default:
		zaplog.For(ctx, p.d.Log).Error("upstream answered unexpectedly", fields...)
	}
}

// fail is the one place errors become pages: a status from the error's
// code and a page that says what happened, never a stack or raw upstream
// text.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *domain.Error
	if !errors.As(err, &e) {
		if r.Context().Err() == nil {
			zaplog.For(r.Context(), p.d.Log).Error("internal error", zap.Error(err))
		}
		p.message(w, r, http.StatusInternalServerError, messageData{Title: "Something went wrong",
			Text: "The webapp could not handle this request. Try again in a moment."})
		return
	}
	switch e.Code {
	case domain.Forbidden:
		p.message(w, r, http.StatusForbidden, messageData{Title: "Request refused",
			Text: "This request could not be verified as coming from this app's own page.", Detail: e.Description})
	case domain.AccessDenied:
		p.message(w, r, http.StatusOK, messageData{Title: "Sign-in cancelled",
			Text: "Sign-in was cancelled, so this app has no access to your times. Nothing was shared.", SignIn: true})
	case domain.LoginFailed:
		p.message(w, r, http.StatusBadRequest, messageData{Title: "Sign-in failed",
			Text: "Sign-in could not be completed.", Detail: e.Description, SignIn: true})
	case domain.InvalidRequest:
		p.message(w, r, http.StatusBadRequest, messageData{Title: "Bad request", Text: "The request could not be read.", Detail: e.Description})
	case domain.Unavailable:
		p.logUpstream(r.Context(), err)
		w.Header().Set("Retry-After", "1")
		p.message(w, r, http.StatusServiceUnavailable, messageData{Title: "Service unavailable", Text: problemText(err), SignIn: true})
	case domain.BadGateway, domain.TokenRejected, domain.NotGranted:
		p.logUpstream(r.Context(), err)
		p.message(w, r, http.StatusBadGateway, messageData{Title: "Upstream error", Text: problemText(err), Detail: e.Description, SignIn: true})
	default:
		zaplog.For(r.Context(), p.d.Log).Error("internal error", zap.Error(err))
		p.message(w, r, http.StatusInternalServerError, messageData{Title: "Something went wrong",
			Text: "The webapp could not handle this request. Try again in a moment."})
	}
}

// formRefused is the answer to a POST the browser marks as cross-origin.
func (p *Pages) formRefused(w http.ResponseWriter, r *http.Request) {
	p.message(w, r, http.StatusForbidden, messageData{Title: "Please try again",
		Text: "This form did not come from this site. Go back, reload the page and submit it again."})
}

func (p *Pages) message(w http.ResponseWriter, r *http.Request, status int, d messageData) {
	p.render(w, r, status, "message", d)
}

// render executes a page into a buffer first, so a template failure is a
// clean 500 rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := p.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		zaplog.For(r.Context(), p.d.Log).Error("rendering a page failed", zap.String("page", page), zap.Error(err))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
