package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/auth"
)

func newAuthCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Helpers for the --auth-file token file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "hash-token [TOKEN]",
		Short: "Print the token_sha256 value for a token (reads the token from stdin when not given)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tok string
			if len(args) == 1 {
				tok = args[0]
			} else {
				line, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read token from stdin: %w", err)
				}
				tok = strings.TrimRight(line, "\r\n")
			}
			if tok == "" {
				return fmt.Errorf("empty token")
			}
			fmt.Fprintln(cmd.OutOrStdout(), auth.HashToken(tok))
			return nil
		},
	})
	return cmd
}
