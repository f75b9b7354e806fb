package app

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The rules of registration: what metadata a registration may ask for,
// turned into what the admin use cases make, and their refusals in RFC
// 7591's codes.

// specOf turns metadata into what the admin use cases make, under the
// rules of registration: vouched, the initial access token's; else open
// registration's, widened by what cur (an update's client) has already.
func (r *Registration) specOf(ctx context.Context, id string, md ClientMetadata, vouched bool, cur *domain.Client) (ClientSpec, error) {
	had := func(g domain.GrantType) bool { return cur != nil && cur.AllowsGrant(g) }
	hadURI := func(u string) bool { return cur != nil && cur.HasRedirectURI(u) }

	if len(md.RedirectURIs) > MaxRegisteredRedirectURIs {
		return ClientSpec{}, domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "at most %d redirect URIs", MaxRegisteredRedirectURIs)
	}
	for i, u := range md.RedirectURIs {
		check := domain.ValidateWebRedirectURI
		if vouched || hadURI(u) {
			check = domain.ValidateRedirectURI
		}
		if err := check(u); err != nil {
			return ClientSpec{}, domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "%s", err.Error())
		}
		if slices.Contains(md.RedirectURIs[:i], u) {
			return ClientSpec{}, domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "redirect URI %q is listed twice", u)
		}
	}

	grants, err := grantsOf(md)
	if err != nil {
		return ClientSpec{}, err
	}
	for _, g := range grants {
		switch {
		case g == domain.GrantPassword:
			return ClientSpec{}, domain.FieldErrorf(FieldGrantTypes, domain.InvalidRequest,
				"the password grant is for first-party clients, which an administrator makes")
		case !slices.Contains(r.policy.Grants, g):
			return ClientSpec{}, domain.FieldErrorf(FieldGrantTypes, domain.InvalidRequest, "this server does not offer the %s grant", g)
		case g == domain.GrantClientCredentials && !vouched && !had(g):
			return ClientSpec{}, domain.FieldErrorf(FieldGrantTypes, domain.InvalidRequest,
				"client_credentials needs an initial access token: a client that acts on its own behalf is vouched for")
		}
	}

	typ := domain.Confidential
	method := md.AuthMethod
	switch method {
	case "":
		method = domain.ClientSecretBasic // RFC 7591 §2's default
	case domain.AuthNone:
		typ = domain.Public
	case domain.ClientSecretBasic, domain.ClientSecretPost:
	default:
		return ClientSpec{}, domain.FieldErrorf(FieldAuthMethod, domain.InvalidRequest,
			"token_endpoint_auth_method %q is not supported: use none, client_secret_basic or client_secret_post", method)
	}

	scope := md.Scope
	if scope == nil {
		if scope, err = r.defaultScope(ctx); err != nil {
			return ClientSpec{}, err
		}
	}
	openID, err := r.openIDSpec(md, vouched, cur)
	if err != nil {
		return ClientSpec{}, err
	}
	name := md.Name
	if name == "" {
		name = id
	}
	return ClientSpec{Name: name, Type: typ, RedirectURIs: md.RedirectURIs, GrantTypes: grants, Scopes: scope, AuthMethod: method, OpenID: openID}, nil
}

// openIDSpec checks md's OpenID Connect metadata: an algorithm this
// server signs ID tokens with, post-logout redirect URIs under the rules
// of redirect URIs.
func (r *Registration) openIDSpec(md ClientMetadata, vouched bool, cur *domain.Client) (*OpenIDSpec, error) {
	if len(r.policy.IDTokenAlgs) == 0 {
		if md.IDTokenAlg != "" || len(md.PostLogoutRedirectURIs) > 0 {
			return nil, domain.Errorf(domain.InvalidRequest, "this server is no OpenID Provider: it takes no OpenID Connect metadata")
		}
		return &OpenIDSpec{}, nil
	}
	if md.IDTokenAlg != "" && !slices.Contains(r.policy.IDTokenAlgs, md.IDTokenAlg) {
		return nil, domain.FieldErrorf(FieldIDTokenAlg, domain.InvalidRequest, "this server signs ID tokens with %v", r.policy.IDTokenAlgs)
	}
	if len(md.PostLogoutRedirectURIs) > MaxRegisteredRedirectURIs {
		return nil, domain.FieldErrorf(FieldPostLogout, domain.InvalidRequest, "at most %d post-logout redirect URIs", MaxRegisteredRedirectURIs)
	}
	for _, u := range md.PostLogoutRedirectURIs {
		check := domain.ValidateWebRedirectURI
		if vouched || (cur != nil && cur.HasPostLogoutRedirectURI(u)) {
			check = domain.ValidateRedirectURI
		}
		if err := check(u); err != nil {
			return nil, domain.FieldErrorf(FieldPostLogout, domain.InvalidRequest, "%s", err.Error())
		}
	}
	return &OpenIDSpec{IDTokenAlg: md.IDTokenAlg, PostLogoutRedirectURIs: md.PostLogoutRedirectURIs}, nil
}

// grantsOf reads the grant types of md, and checks them against its
// response types as RFC 7591 §2.1 pairs them: "code" with
// authorization_code, "token" with implicit. What md leaves out follows
// from the other; both left out are the RFC's defaults, "code" and
// authorization_code.
func grantsOf(md ClientMetadata) ([]domain.GrantType, error) {
	pairs := map[string]domain.GrantType{"code": domain.GrantAuthorizationCode, "token": domain.GrantImplicit}
	for _, rt := range md.ResponseTypes {
		if _, ok := pairs[rt]; !ok {
			return nil, domain.FieldErrorf(FieldResponseTypes, domain.InvalidRequest, "response type %q is not supported: use code (or token, where implicit is offered)", rt)
		}
	}
	if md.GrantTypes == nil {
		if md.ResponseTypes == nil {
			return []domain.GrantType{domain.GrantAuthorizationCode}, nil
		}
		grants := []domain.GrantType{}
		for _, rt := range md.ResponseTypes {
			if g := pairs[rt]; !slices.Contains(grants, g) {
				grants = append(grants, g)
			}
		}
		return grants, nil
	}
	grants := slices.Clone(md.GrantTypes)
	for _, g := range grants {
		if !slices.Contains(knownGrants, g) {
			return nil, domain.FieldErrorf(FieldGrantTypes, domain.InvalidRequest, "unknown grant type %q", g)
		}
	}
	if md.ResponseTypes != nil {
		for rt, g := range pairs {
			if slices.Contains(md.ResponseTypes, rt) != slices.Contains(grants, g) {
				return nil, domain.FieldErrorf(FieldResponseTypes, domain.InvalidRequest,
					"response type %q goes with grant type %s, one without the other (RFC 7591 §2.1)", rt, g)
			}
		}
	}
	return grants, nil
}

// defaultScope is what a client registers when it names no scope: every
// scope the server has but the reserved ones.
func (r *Registration) defaultScope(ctx context.Context) (domain.Scope, error) {
	known, err := r.admin.knownScopes(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(known, func(s string) bool { return s == AdminScope || s == RegisterScope }), nil
}

// FieldResponseTypes names the response types of a registration.
const FieldResponseTypes = "response_types"

// rfc7591Names are the registration's names of the admin use cases'
// fields, where they differ.
var rfc7591Names = map[string]string{FieldName: "client_name", FieldScopes: "scope", FieldType: FieldAuthMethod}

// registrationError is err as RFC 7591 §3.2.2 codes it: a refused
// redirect URI is invalid_redirect_uri, any other refused metadata
// invalid_client_metadata, naming the member at fault. Anything else (an
// outage, a bad token) passes unchanged.
func registrationError(err error) error {
	var fe *domain.FieldError
	if errors.As(err, &fe) && isRefusal(fe.Err.Code) {
		field := fe.Field
		if n, ok := rfc7591Names[field]; ok {
			field = n
		}
		code := domain.InvalidClientMetadata
		if field == FieldRedirectURIs {
			code = domain.InvalidRedirectURI
		}
		desc := fe.Err.Description
		if !strings.HasPrefix(desc, field) {
			desc = field + ": " + desc
		}
		return domain.FieldErrorf(field, code, "%s", desc)
	}
	var pe *domain.Error
	if errors.As(err, &pe) && isRefusal(pe.Code) {
		return domain.Errorf(domain.InvalidClientMetadata, "%s", pe.Description)
	}
	return err
}

// isRefusal reports whether code is the admin use cases' refusal of an
// input, which registration answers with its own codes.
func isRefusal(code domain.ErrorCode) bool {
	return code == domain.InvalidRequest || code == domain.InvalidScope
}
