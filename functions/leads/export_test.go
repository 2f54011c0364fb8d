package leads

import (
	"github.com/edugrid/edugrid/shared/httpapi"
)

// ConversionSteps are the steps of a conversion a failure can be injected after, in order.
var ConversionSteps = conversionSteps

// AreaFailingAt returns the leads area of a copy of s whose conversions call failAt after each step; an
// error it returns aborts the conversion there.
func AreaFailingAt(s *Service, opts httpapi.Options, failAt func(step string) error) *httpapi.Area {
	c := *s
	c.failAt = failAt
	return c.Area(opts)
}
