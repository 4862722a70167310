package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/app"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Maintenance of the store"}
	var f serveFlags
	rebuild := &cobra.Command{
		Use:   "rebuild-rollups",
		Short: "Recompute every SLO rollup exactly from the stored tasks",
		Long: `Recompute the per-minute, hourly and daily rollups behind every SLO from the
stored task summaries. Rollups are maintained on every commit, so this is only
needed after restoring a backup or upgrading across a change of rollup format.
It works on the store directly (--data or --db); day2 serve may keep running on
PostgreSQL; with SQLite, stop it first or expect a short wait for the write lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, closeStore, err := app.OpenStore(cmd.Context(), f.data, f.db, nil)
			if err != nil {
				return err
			}
			defer closeStore()
			start := time.Now()
			n, err := st.RebuildRollups(cmd.Context())
			if err != nil {
				return fmt.Errorf("rebuild rollups: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rebuilt the rollups of %d tasks in %s\n", n, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	rebuild.Flags().StringVar(&f.data, "data", "./day2-data", "directory of the embedded SQLite store")
	rebuild.Flags().StringVar(&f.db, "db", "", "PostgreSQL URL instead of the embedded store")
	cmd.AddCommand(rebuild)
	return cmd
}
