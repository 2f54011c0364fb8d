package platform

import (
	"context"
	"net/http"

	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Routes is the platform area's route table.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/tenants", Permission: rbac.PlatformTenants, Summary: "Provision an institution with its database and owner account",
			Request: ProvisionRequest{}, Response: Provisioned{}, Status: http.StatusCreated, Handler: s.handleProvision},
		{Method: "GET", Path: "/tenants", Permission: rbac.PlatformTenants, Summary: "List institutions in slug order",
			Response: httpapi.Page[tenant.Tenant]{}, Query: httpapi.PageQuery, Handler: s.handleList},
		{Method: "GET", Path: "/tenants/{slug}", Permission: rbac.PlatformTenants, Summary: "Read one institution",
			Response: tenant.Tenant{}, Handler: s.handleGet},
		{Method: "PUT", Path: "/tenants/{slug}/branding", Permission: rbac.PlatformTenants, Summary: "Replace an institution's branding",
			Request: tenant.Branding{}, Response: tenant.Tenant{}, Handler: s.handleBranding},
		{Method: "PUT", Path: "/tenants/{slug}/settings", Permission: rbac.PlatformTenants, Summary: "Replace an institution's settings",
			Request: tenant.Settings{}, Response: tenant.Tenant{}, Handler: s.handleSettings},
		{Method: "POST", Path: "/tenants/{slug}/suspend", Permission: rbac.PlatformTenants, Summary: "Suspend an institution: its users are refused until resumed",
			Response: tenant.Tenant{}, Handler: s.statusHandler(s.Suspend)},
		{Method: "POST", Path: "/tenants/{slug}/resume", Permission: rbac.PlatformTenants, Summary: "Resume a suspended institution",
			Response: tenant.Tenant{}, Handler: s.statusHandler(s.Resume)},
		{Method: "POST", Path: "/tenants/{slug}/revoke-tokens", Permission: rbac.PlatformTenants, Summary: "Sign out every user of an institution",
			Response: tenant.Tenant{}, Handler: s.statusHandler(s.RevokeTokens)},
		{Method: "PUT", Path: "/tenants/{slug}/cluster", Permission: rbac.PlatformTenants, Summary: "Point a suspended institution at another cluster (after copying its database there)",
			Request: ClusterMove{}, Response: tenant.Tenant{}, Handler: s.handleMoveCluster},
		{Method: "GET", Path: "/clusters", Permission: rbac.PlatformTenants, Summary: "How full each cluster is: institutions, namespaces against its budget, room for more",
			Response: httpapi.Page[ClusterUse]{}, Query: httpapi.PageQuery, Handler: s.handleClusters},
		{Method: "GET", Path: "/branding/{slug}", Permission: rbac.Public, Summary: "An institution's public branding, for its login page",
			Response: PublicBranding{}, Handler: s.handlePublicBranding},
	}
}

// Area returns the platform area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("platform", s.Routes(), opts)
}

func (s *Service) handleProvision(w http.ResponseWriter, r *http.Request) error {
	var req ProvisionRequest
	if err := httpapi.DecodeOnly(r, &req); err != nil {
		return err
	}
	out, err := s.Provision(r.Context(), rbac.Must(r.Context()), req)
	return httpapi.Reply(w, http.StatusCreated, out, err)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	items, err := s.List(r.Context(), pr.After, pr.Limit)
	if err != nil {
		return err
	}
	httpapi.JSON(w, http.StatusOK, httpapi.NewPage(items, pr.Limit, func(t tenant.Tenant) string { return t.Slug }))
	return nil
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Get(r.Context(), r.PathValue("slug"))
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) handleBranding(w http.ResponseWriter, r *http.Request) error {
	var b tenant.Branding
	if err := httpapi.DecodeOnly(r, &b); err != nil {
		return err
	}
	t, err := s.SetBranding(r.Context(), rbac.Must(r.Context()), r.PathValue("slug"), b)
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) handleSettings(w http.ResponseWriter, r *http.Request) error {
	var st tenant.Settings
	if err := httpapi.DecodeOnly(r, &st); err != nil {
		return err
	}
	t, err := s.SetSettings(r.Context(), rbac.Must(r.Context()), r.PathValue("slug"), st)
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) statusHandler(op func(ctx context.Context, actor rbac.Principal, slug string) (*tenant.Tenant, error)) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := op(r.Context(), rbac.Must(r.Context()), r.PathValue("slug"))
		if err != nil {
			return err
		}
		httpapi.JSON(w, http.StatusOK, t)
		return nil
	}
}

func (s *Service) handlePublicBranding(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Branding(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	httpapi.JSON(w, http.StatusOK, b)
	return nil
}

func (s *Service) handleMoveCluster(w http.ResponseWriter, r *http.Request) error {
	var m ClusterMove
	if err := httpapi.DecodeOnly(r, &m); err != nil {
		return err
	}
	t, err := s.MoveCluster(r.Context(), rbac.Must(r.Context()), r.PathValue("slug"), m)
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) handleClusters(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]ClusterUse, error) { return s.Clusters(r.Context()) },
		func(c ClusterUse) string { return c.Name })
}
