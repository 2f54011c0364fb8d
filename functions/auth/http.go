package auth

import (
	"net/http"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// RefreshRequest carries a refresh token.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// Routes is the auth area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/login", Permission: rbac.Public, Summary: "Sign in with tenant and email, or with a PRN",
			Request: LoginRequest{}, Response: TokenPair{}, Handler: s.handleLogin,
			Errors: []apperr.Code{apperr.Unauthenticated, apperr.Suspended, apperr.RateLimited}},
		{Method: "POST", Path: "/refresh", Permission: rbac.Public, Summary: "Rotate a refresh token into a new token pair",
			Request: RefreshRequest{}, Response: TokenPair{}, Handler: s.handleRefresh,
			Errors: []apperr.Code{apperr.Unauthenticated, apperr.Suspended}},
		{Method: "POST", Path: "/logout", Permission: rbac.Public, Summary: "End the sign-in a refresh token belongs to",
			Request: RefreshRequest{}, Status: http.StatusNoContent, Handler: s.handleLogout},
		{Method: "POST", Path: "/logout-all", Permission: rbac.Self, Summary: "End every session of the caller",
			Status: http.StatusNoContent, Handler: s.handleLogoutAll},
		{Method: "POST", Path: "/password", Permission: rbac.Self, Summary: "Change the caller's password and end their sessions",
			Request: PasswordChange{}, Status: http.StatusNoContent, Handler: s.handlePassword},
		{Method: "GET", Path: "/me", Permission: rbac.Self, Summary: "The caller: user id, PRN, tenant, role and branch scope",
			Response: Me{}, Handler: s.handleMe},
		{Method: "GET", Path: "/jwks", Permission: rbac.Public, Summary: "Public keys that verify edugrid access tokens",
			Response: authn.JWKS{}, Handler: s.handleJWKS},
		{Method: "GET", Path: "/.well-known/jwks.json", Permission: rbac.Public, Summary: "Public keys that verify edugrid access tokens (well-known location)",
			Response: authn.JWKS{}, Handler: s.handleJWKS},
	}
}

// Area returns the auth area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("auth", s.Routes(), opts)
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req LoginRequest
	if err := httpapi.DecodeOnly(r, &req); err != nil {
		return err
	}
	pair, err := s.Login(r.Context(), req, httpapi.ClientIP(r, s.deps.ClientIPHops))
	return httpapi.Reply(w, http.StatusOK, pair, err)
}

func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var req RefreshRequest
	if err := httpapi.DecodeOnly(r, &req); err != nil {
		return err
	}
	pair, err := s.Refresh(r.Context(), req.RefreshToken)
	return httpapi.Reply(w, http.StatusOK, pair, err)
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) error {
	var req RefreshRequest
	if err := httpapi.DecodeOnly(r, &req); err != nil {
		return err
	}
	if err := s.Logout(r.Context(), req.RefreshToken); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	if err := s.LogoutEverywhere(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handlePassword(w http.ResponseWriter, r *http.Request) error {
	var req PasswordChange
	if err := httpapi.DecodeOnly(r, &req); err != nil {
		return err
	}
	if err := s.ChangePassword(r.Context(), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) error {
	me, err := s.WhoAmI(r.Context())
	return httpapi.Reply(w, http.StatusOK, me, err)
}

func (s *Service) handleJWKS(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpapi.JSON(w, http.StatusOK, s.deps.Tokens.Keys().JWKS())
	return nil
}
