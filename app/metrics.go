package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// sloCollector exposes the latest SLO evaluation and the task counts as
// Prometheus metrics. It reads the engine's last snapshot, so a scrape costs no
// evaluation.
type sloCollector struct {
	engine *slo.Engine
	store  interface {
		ListServices(ctx context.Context) ([]day2.ServiceSummary, error)
	}
}

var (
	descSLI = prometheus.NewDesc("day2_sli_ratio",
		"Current SLI of an SLO over its window: good events / total events.", []string{"service", "slo"}, nil)
	descObjective = prometheus.NewDesc("day2_slo_objective",
		"Objective of an SLO as a ratio of good events (0..1).", []string{"service", "slo"}, nil)
	descBudget = prometheus.NewDesc("day2_slo_error_budget_remaining_ratio",
		"Share of the error budget left over the SLO window; negative when overspent.", []string{"service", "slo"}, nil)
	descBurn = prometheus.NewDesc("day2_slo_burn_rate",
		"Error budget burn rate over a window (1 spends the budget exactly over the SLO period).", []string{"service", "slo", "window"}, nil)
	descFiring = prometheus.NewDesc("day2_slo_alert_firing",
		"1 while the SLO's burn-rate alert of this severity fires.", []string{"service", "slo", "severity"}, nil)
	descEvalTime = prometheus.NewDesc("day2_slo_last_evaluation_timestamp_seconds",
		"Unix time of the latest SLO evaluation.", nil, nil)
	descTasks = prometheus.NewDesc("day2_tasks_total",
		"Tasks (runs of an agent's business process) seen, by service, environment and version.", []string{"service", "environment", "version"}, nil)
)

func (c *sloCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSLI, descObjective, descBudget, descBurn, descFiring, descEvalTime, descTasks} {
		ch <- d
	}
}

func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	if snap := c.engine.Last(); snap != nil {
		ch <- prometheus.MustNewConstMetric(descEvalTime, prometheus.GaugeValue, float64(snap.At.UnixNano())/1e9)
		for _, st := range snap.Statuses {
			if st.SLI != nil {
				ch <- prometheus.MustNewConstMetric(descSLI, prometheus.GaugeValue, *st.SLI, st.Service, st.Name)
			}
			ch <- prometheus.MustNewConstMetric(descObjective, prometheus.GaugeValue, st.Objective, st.Service, st.Name)
			if !st.NoData {
				ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, st.ErrorBudget.RemainingFraction, st.Service, st.Name)
			}
			for _, w := range slo.Windows {
				if r := st.BurnRates[w.Key]; r != nil {
					ch <- prometheus.MustNewConstMetric(descBurn, prometheus.GaugeValue, *r, st.Service, st.Name, w.Key)
				}
			}
			for _, a := range st.Alerts {
				v := 0.0
				if a.State == slo.StateFiring {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descFiring, prometheus.GaugeValue, v, st.Service, st.Name, string(a.Severity))
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	svcs, err := c.store.ListServices(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descTasks, err)
		return
	}
	for _, s := range svcs {
		for _, v := range s.Versions {
			ch <- prometheus.MustNewConstMetric(descTasks, prometheus.CounterValue, float64(v.TaskCount), s.Service, v.Environment, v.Version)
		}
	}
}
