package all_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/httpapi"
)

// enumKinds returns every string kind with listed values (httpapi.Enum) that a route's request, response
// or query parameter uses, found by walking the route tables' types.
func enumKinds(t *testing.T) map[reflect.Type]bool {
	t.Helper()
	env := apptest.New(t)
	enumType := reflect.TypeFor[httpapi.Enum]()
	found := map[reflect.Type]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type)
			}
		case reflect.String:
			if ty.Implements(enumType) {
				found[ty] = true
			}
		}
	}
	for _, a := range env.Areas {
		for _, rt := range a.Routes {
			for _, v := range []any{rt.Request, rt.Response} {
				if v != nil {
					walk(reflect.TypeOf(v))
				}
			}
			for _, q := range rt.Query {
				if q.Type != nil {
					walk(reflect.TypeOf(q.Type))
				}
			}
		}
	}
	return found
}

// The document's enums are the values the code accepts: every kind lists distinct, non-empty values, and a
// kind that validates itself (Valid) accepts each of them and nothing else.
func TestEnumsAreWhatValidationAccepts(t *testing.T) {
	kinds := enumKinds(t)
	if len(kinds) < 15 {
		t.Fatalf("only %d enum kinds found in the route tables: %v", len(kinds), kinds)
	}
	for ty := range kinds {
		t.Run(ty.String(), func(t *testing.T) {
			values := reflect.Zero(ty).Interface().(httpapi.Enum).Values()
			if len(values) == 0 {
				t.Fatal("no values")
			}
			sorted := slices.Clone(values)
			slices.Sort(sorted)
			if len(slices.Compact(sorted)) != len(values) || slices.Contains(values, "") {
				t.Errorf("values %v repeat or hold an empty one", values)
			}
			valid, ok := ty.MethodByName("Valid")
			if !ok || valid.Type.NumIn() != 1 || valid.Type.NumOut() != 1 || valid.Type.Out(0).Kind() != reflect.Bool {
				return // checked where it is used (a request's Validate)
			}
			for _, v := range append(values, "not-a-value", "") {
				got := valid.Func.Call([]reflect.Value{reflect.ValueOf(v).Convert(ty)})[0].Bool()
				if want := slices.Contains(values, v); got != want {
					t.Errorf("Valid(%q) = %v, want %v", v, got, want)
				}
			}
		})
	}
}
