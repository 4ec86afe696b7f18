package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestImageBuildSteps runs the Dockerfile's build step without Docker
// (which these machines lack): the same go build, with cgo off, must give
// a statically linked binary that needs nothing from the image but
// itself, carries its version, and the final stage must run it as a
// non-root user on the distroless base.
func TestImageBuildSteps(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/ledger \./cmd/ledger$`).FindSubmatch(dockerfile)
	if build == nil {
		t.Fatalf("the Dockerfile has no RUN CGO_ENABLED=0 go build … -o /out/ledger ./cmd/ledger step")
	}
	args := shellWords(strings.ReplaceAll(string(build[1]), "${VERSION}", "image-test"))
	args = args[1:] // CGO_ENABLED=0, set in the environment below
	out := filepath.Join(t.TempDir(), "ledger")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args[1:], "-o", out, "./cmd/ledger")...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): it would not run on distroless/static", p.Type)
		}
	}
	if v, err := exec.Command(out, "--version").Output(); err != nil || strings.TrimSpace(string(v)) != "ledger image-test" {
		t.Errorf("ledger --version: %q, %v; want the version from the build argument", v, err)
	}

	// The final stage: distroless static, a non-root user, the healthcheck.
	var final []string
	sc := bufio.NewScanner(strings.NewReader(string(dockerfile)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "FROM ") {
			final = nil
		}
		final = append(final, line)
	}
	stage := strings.Join(final, "\n")
	for _, want := range []string{"FROM gcr.io/distroless/static-debian12:nonroot", "USER nonroot:nonroot", `HEALTHCHECK`, `"/ledger", "health"`,
		"LEDGER_ADDR=0.0.0.0:8080"} {
		if !strings.Contains(stage, want) {
			t.Errorf("the Dockerfile's final stage lacks %q:\n%s", want, stage)
		}
	}
}

// shellWords splits a command line as a shell would for the simple cases
// the Dockerfile uses: words separated by spaces, double quotes grouping.
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				out, inWord = append(out, w.String()), false
				w.Reset()
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}
