package daemon

import (
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkHandoff times the core's part of a hand-off of 10,000 sessions
// with 4 subscriptions each over 1,000 channels with history: Freeze,
// ExportState and Export, ImportState, Resume and Detach, alone ("direct")
// and with an encoding/json round trip of the states ("json") as an image
// made with it would cost. It reports the time per session, which with the
// transport's part makes the pause clients see.
func BenchmarkHandoff(b *testing.B) {
	for _, viaJSON := range []bool{false, true} {
		name := "direct"
		if viaJSON {
			name = "json"
		}
		b.Run(name, func(b *testing.B) { benchmarkHandoff(b, viaJSON) })
	}
}

func benchmarkHandoff(b *testing.B, viaJSON bool) {
	const sessions, perSession, channels = 10_000, 4, 1_000
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		a := New(Options{DefaultChannel: ChannelOptions{HistorySize: 10}})
		old := make([]*Session, sessions)
		for i := range old {
			old[i] = a.Connect(&fakeTransport{}, Identity{Subject: "u" + strconv.Itoa(i), Channels: []string{"*"}})
			for j := range perSession {
				name := "room:" + strconv.Itoa((i*perSession+j)%channels)
				old[i].Message(false, []byte(`{"action":"subscribe","channel":"`+name+`"}`))
			}
		}
		for c := range channels {
			publishN(b, a, "room:"+strconv.Itoa(c), 10)
		}
		next := New(Options{DefaultChannel: ChannelOptions{HistorySize: 10}})
		runtime.GC() // the setup's garbage is not the hand-off's
		b.StartTimer()

		a.Freeze()
		states := make([]SessionState, sessions)
		for i, s := range old {
			states[i] = s.Export()
		}
		back := handoffImage{Node: a.ExportState(), Sessions: states}
		if viaJSON {
			image, err := json.Marshal(back)
			if err != nil {
				b.Fatal(err)
			}
			back = handoffImage{}
			if err := json.Unmarshal(image, &back); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(image))/sessions, "image-bytes/session")
		}
		if err := next.ImportState(back.Node); err != nil {
			b.Fatal(err)
		}
		for _, ss := range back.Sessions {
			if _, err := next.Resume(&fakeTransport{}, ss); err != nil {
				b.Fatal(err)
			}
		}
		for _, s := range old {
			s.Detach()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sessions), "ns/session")
}

// handoffImage stands in for package handoff's image.
type handoffImage struct {
	Node     NodeState      `json:"node"`
	Sessions []SessionState `json:"sessions"`
}
