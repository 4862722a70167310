package notify_test

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2/notify"
)

// TestDocsExamplesAreValid keeps the Notifier examples of the notifications
// guide valid.
func TestDocsExamplesAreValid(t *testing.T) {
	doc, err := os.ReadFile("../docs/notifications.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	checked := 0
	for _, b := range blocks {
		b = b[:strings.Index(b, "```")]
		if !strings.Contains(b, "kind: Notifier") {
			continue
		}
		var d struct {
			Metadata struct{ Name string }
			Spec     notify.Notifier
		}
		if err := yaml.Unmarshal([]byte(b), &d); err != nil {
			t.Errorf("example does not parse: %v\n%s", err, b)
			continue
		}
		d.Spec.Name = d.Metadata.Name
		if err := d.Spec.Validate(); err != nil {
			t.Errorf("example is not valid: %v\n%s", err, b)
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("checked %d Notifier examples, want the 5 of the guide", checked)
	}
}
