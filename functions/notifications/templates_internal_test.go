package notifications

import "testing"

// Every built-in template passes the checks an institution's template must pass at save time.
func TestBuiltinTemplatesAreValid(t *testing.T) {
	for kind, byLang := range builtin {
		if kind == "" {
			continue // the fallback for kinds without templates renders the notification's own subject and body
		}
		for _, lang := range Languages {
			tpl, ok := byLang[lang]
			if !ok {
				t.Errorf("%s has no built-in %s template", kind, lang)
				continue
			}
			if err := tpl.validate(kind); err != nil {
				t.Errorf("built-in %s/%s: %v", kind, lang, err)
			}
		}
	}
	for _, kind := range kindNames() {
		if _, ok := builtin[kind]; !ok {
			t.Errorf("%s has no built-in templates", kind)
		}
	}
}
