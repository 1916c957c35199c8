package explain

import (
	"os"
	"strings"
	"testing"
)

// The README's hint table lists every hint with its meaning.
func TestHintsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for id, meaning := range HintMeaning {
		if row := "| `" + id + "` | " + meaning + " |"; !strings.Contains(string(readme), row) {
			t.Errorf("README lacks the row %s", row)
		}
	}
}
