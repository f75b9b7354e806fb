package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// The developer pages (<base>/developer): a signed-in user registers
// clients of their own, sees each one's id and, once, its secret, lists
// and deletes them. Like every page they carry CSRF tokens and the pages'
// security headers; the secret's page is never cached (no-store, as
// every page).

// Developer manages the clients a user registered.
type Developer interface {
	// OwnClients returns the user's clients.
	OwnClients(ctx context.Context, userID string) ([]domain.Client, error)
	// RegisterOwn registers a client owned by the user.
	RegisterOwn(ctx context.Context, userID string, oc app.OwnClient) (app.CreatedClient, error)
	// DeleteOwn deletes one of the user's clients.
	DeleteOwn(ctx context.Context, userID, clientID string) error
}

type developerRow struct {
	ID, Name, Type      string
	RedirectURIs        []string
	Created, CreatedISO string
}

// developerForm is what the form held, shown again when it is refused.
type developerForm struct {
	Name, RedirectURIs, Type string
}

type developerPage struct {
	pageData
	Clients []developerRow
	Max     int
	// Made is the client just registered, and Secret its secret, shown
	// this once.
	Made   *developerRow
	Secret string
	Form   developerForm
}

func developerRowOf(c domain.Client) developerRow {
	return developerRow{
		ID: c.ID, Name: c.Name, Type: string(c.Type), RedirectURIs: c.RedirectURIs,
		Created: pageTime(c.CreatedAt), CreatedISO: c.CreatedAt.UTC().Format(time.RFC3339),
	}
}

// handleDeveloper shows the signed-in user's clients and the form that
// registers one.
func handleDeveloper(p *pages, accounts Accounts, dev Developer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.viewer(w, r, accounts, "/developer")
		if !ok {
			return
		}
		page := developerPage{}
		if r.URL.Query().Get("deleted") != "" {
			page.Notice = "Deleted. Its tokens no longer work."
		}
		p.showDeveloper(w, r, dev, sess, http.StatusOK, page)
	})
}

// showDeveloper renders the developer page of sess's user around page.
func (p *pages) showDeveloper(w http.ResponseWriter, r *http.Request, dev Developer, sess domain.Session, status int, page developerPage) {
	list, err := dev.OwnClients(r.Context(), sess.UserID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	data := p.data(w, r)
	data.Notice, data.Error = page.Notice, page.Error
	page.pageData, page.Max = data, p.cfg.ClientsPerUser
	for _, c := range list {
		page.Clients = append(page.Clients, developerRowOf(c))
	}
	p.render(w, r, status, "developer", page)
}

// maxRedirectField bounds the redirect URIs' text area: ten URIs of 2 KB.
const maxRedirectField = 10 * 2049

// handleRegisterOwn registers a client for the signed-in user and shows
// it, with its secret, on the page that answers the form: a redirect
// would have to carry the secret somewhere.
func handleRegisterOwn(p *pages, accounts Accounts, dev Developer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.signedIn(w, r, accounts, "/developer")
		if !ok {
			return
		}
		form := developerForm{Name: r.PostFormValue("name"), RedirectURIs: r.PostFormValue("redirect_uris"), Type: r.PostFormValue("type")}
		var made app.CreatedClient
		var err error = domain.FieldErrorf(app.FieldRedirectURIs, domain.InvalidRequest, "the redirect URIs are longer than ten of any client's")
		if len(form.RedirectURIs) <= maxRedirectField {
			made, err = dev.RegisterOwn(r.Context(), sess.UserID, app.OwnClient{
				Name: strings.TrimSpace(form.Name), Type: domain.ClientType(form.Type), RedirectURIs: strings.Fields(form.RedirectURIs),
			})
		}
		var pe *domain.Error
		switch {
		case errors.Is(err, app.ErrNoSession):
			redirect(w, r, p.loginURL(p.base+"/developer")) // the account closed meanwhile
		case errors.As(err, &pe) && pe.Code == domain.InvalidRequest:
			if len(form.RedirectURIs) > maxRedirectField {
				form.RedirectURIs = ""
			}
			p.showDeveloper(w, r, dev, sess, http.StatusBadRequest, developerPage{pageData: pageData{Error: pe.Description}, Form: form})
		case err != nil:
			p.fail(w, r, err)
		default:
			row := developerRowOf(made.Client)
			p.showDeveloper(w, r, dev, sess, http.StatusCreated, developerPage{Made: &row, Secret: made.Secret})
		}
	})
}

// handleDeleteOwn deletes one of the signed-in user's clients; another's,
// or none, changes nothing.
func handleDeleteOwn(p *pages, accounts Accounts, dev Developer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.signedIn(w, r, accounts, "/developer")
		if !ok {
			return
		}
		clientID := r.PostFormValue("client_id")
		if len(clientID) > app.MaxClientIDLength {
			p.fail(w, r, domain.Errorf(domain.InvalidRequest, "client_id is longer than any client's"))
			return
		}
		err := dev.DeleteOwn(r.Context(), sess.UserID, clientID)
		switch {
		case errors.Is(err, app.ErrNoSuchClient):
			redirect(w, r, p.base+"/developer") // deleted already, or never the user's
		case err != nil:
			p.fail(w, r, err)
		default:
			redirect(w, r, p.base+"/developer?deleted=1")
		}
	})
}
