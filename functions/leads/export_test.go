package leads

import (
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/httpapi"
)

// ConversionSteps are the steps of a conversion a failure can be injected after, in order.
var ConversionSteps = conversionSteps

// HandlerFailingAt returns the leads area over a whose conversions call failAt after each step; an error it
// returns aborts the conversion there.
func HandlerFailingAt(a *app.App, failAt func(step string) error) *httpapi.Area {
	s := New(a)
	s.failAt = failAt
	return s.handler()
}
