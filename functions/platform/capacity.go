package platform

import (
	"context"

	"github.com/edugrid/edugrid/shared/apperr"
)

// NamespacesPerTenant is what one institution's database costs its cluster in namespaces (collections
// plus indexes) once every area has written to it: 44 collections with their _id indexes and 71 secondary
// indexes made 159 when every route of the API had been called, online payments included; 200 leaves room
// for the collections rarer paths write and for the next areas. A test calls every route on the demo
// institution and keeps its database under it.
const NamespacesPerTenant = 200

// ClusterUse is how full one cluster is.
type ClusterUse struct {
	Name    string `json:"name"`
	Default bool   `json:"default"` // where institutions go unless a request names a cluster
	Tenants int    `json:"tenants"` // institutions on it, in any status
	// Namespaces is what its institutions cost (Tenants × NamespacesPerTenant) against Budget.
	Namespaces int `json:"namespaces"`
	Budget     int `json:"budget"`
	// Room is how many more institutions fit.
	Room int `json:"room"`
}

// Clusters returns the use of every configured cluster, in name order. Platform admins only (the route's
// permission); errors are database failures.
func (s *Service) Clusters(ctx context.Context) ([]ClusterUse, error) {
	counts, err := s.deps.Registry.CountByCluster(ctx)
	if err != nil {
		return nil, err
	}
	var out []ClusterUse
	for _, name := range s.deps.Databases.Clusters() {
		budget := s.deps.NamespaceBudget(name)
		u := ClusterUse{Name: name, Default: name == s.deps.DefaultCluster, Tenants: counts[name],
			Namespaces: counts[name] * NamespacesPerTenant, Budget: budget}
		u.Room = max(0, (budget-u.Namespaces)/NamespacesPerTenant)
		out = append(out, u)
	}
	return out, nil
}

// place chooses the cluster of a new institution: the requested one, which must have room, or else the
// default cluster, or, when that is full, the configured cluster with the most room. Conflict when there
// is no room where it may go.
func (s *Service) place(ctx context.Context, requested string) (string, error) {
	use, err := s.Clusters(ctx)
	if err != nil {
		return "", err
	}
	var best *ClusterUse
	for i := range use {
		u := &use[i]
		if requested != "" && u.Name != requested {
			continue
		}
		if requested != "" || u.Default {
			if u.Room > 0 {
				return u.Name, nil
			}
		}
		if u.Room > 0 && (best == nil || u.Room > best.Room) {
			best = u
		}
	}
	if requested != "" {
		return "", apperr.Errorf(apperr.Conflict, "cluster %q is full: its institutions use its whole namespace budget; choose another cluster or raise its budget (EDUGRID_CLUSTER_NAMESPACES)", requested)
	}
	if best == nil {
		return "", apperr.Errorf(apperr.Conflict, "every cluster is full; add a cluster (EDUGRID_CLUSTERS) or raise a budget (EDUGRID_CLUSTER_NAMESPACES)")
	}
	return best.Name, nil
}
