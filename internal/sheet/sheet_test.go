package sheet

import "testing"

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"星子镇":                            "星子镇",
		"=HYPERLINK(\"http://x\",\"x\")": "'=HYPERLINK(\"http://x\",\"x\")",
		"+1":                             "'+1",
		"-2+3":                           "'-2+3",
		"@SUM(A1)":                       "'@SUM(A1)",
		"\tcmd":                          "'\tcmd",
		"\rcmd":                          "'\rcmd",
		"LS-2025-01-000001":              "LS-2025-01-000001",
		"110.00":                         "110.00",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}
