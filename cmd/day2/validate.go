package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	// Calendar windows and business hours name IANA time zones; embedding the
	// zone database makes them load the same in a minimal container image,
	// which has none, as on the machine where the config was validated.
	_ "time/tzdata"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/config"
)

// newValidateCmd returns `day2 validate`, which checks a config directory the way
// `day2 serve --config` reads it.
func newValidateCmd() *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "validate --config DIR",
		Short: "Check the OpenSLO and day2 YAML files of a config directory",
		Long: `validate reads every .yaml and .yml file under DIR (OpenSLO v1 SLO, SLI, Service,
AlertPolicy, AlertCondition documents and day2/v1 settings such as SLODefaults and
BudgetPolicy) as day2 serve --config DIR would, and lists every problem as
file:line: message. It exits 1 when the config has problems and 2 on a usage error.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &exitError{2, fmt.Errorf("unexpected argument %q; name the directory with --config DIR", args[0])}
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(cmd.OutOrStdout(), cmd.ErrOrStderr(), dir, output)
		},
	}
	cmd.Flags().StringVar(&dir, "config", "", "directory of OpenSLO v1 and day2/v1 YAML files (or one file)")
	cmd.Flags().StringVar(&output, "output", "text", "text (problems on stderr, a summary on stdout) or json (a report on stdout)")
	return cmd
}

// validateReport is the --output json report.
type validateReport struct {
	Valid    bool            `json:"valid"`
	Files    []string        `json:"files"`
	SLOs     []string        `json:"slos,omitempty"`
	Services []string        `json:"services,omitempty"`
	Summary  string          `json:"summary,omitempty"`
	Problems config.Problems `json:"problems,omitempty"`
}

func runValidate(stdout, stderr io.Writer, dir, output string) error {
	if output != "text" && output != "json" {
		return &exitError{2, fmt.Errorf("--output %q: use text or json", output)}
	}
	if dir == "" {
		return &exitError{2, errors.New("--config DIR is required: the directory of OpenSLO and day2 YAML files to check")}
	}
	cfg, err := config.LoadDir(dir)
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		return &exitError{1, err}
	}
	invalid := &exitError{1, fmt.Errorf("the config in %s has problems; fix them and run day2 validate again", dir)}
	if output == "json" {
		r := validateReport{Valid: err == nil, Problems: problems, Files: []string{}}
		if err == nil {
			r.Files, r.Summary = cfg.Files, cfg.Summary()
			for _, d := range cfg.SLOs {
				r.SLOs = append(r.SLOs, d.Name)
			}
			for _, s := range cfg.Services {
				r.Services = append(r.Services, s.Name)
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(r); werr != nil {
			return &exitError{1, werr}
		}
		if err != nil {
			return invalid
		}
		return nil
	}
	if err != nil {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return invalid
	}
	_, err = fmt.Fprintln(stdout, cfg.Summary())
	return err
}
