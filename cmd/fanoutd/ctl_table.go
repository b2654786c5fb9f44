package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fanoutd/fanoutd/control"
)

// table writes aligned columns: a header, then rows.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func connectionsTable(w io.Writer, raw json.RawMessage) error {
	var all struct {
		Connections []connection         `json:"connections"`
		Errors      []control.NodeResult `json:"errors"`
		Missing     []string             `json:"missing"`
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		return err
	}
	rows := make([][]string, 0, len(all.Connections))
	for _, c := range all.Connections {
		rows = append(rows, []string{c.ID, orDash(c.User), orDash(c.Remote), orDash(strings.Join(c.Channels, ",")),
			(time.Duration(c.Age) * time.Second).String(), fmt.Sprint(c.Queue), c.Node})
	}
	if err := table(w, "ID\tUSER\tREMOTE\tCHANNELS\tAGE\tQUEUED\tNODE", rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d connection(s)\n", len(all.Connections))
	for _, e := range all.Errors {
		fmt.Fprintf(w, "node %s: %s\n", e.Node, e.Error)
	}
	if len(all.Missing) > 0 {
		return fmt.Errorf("%d node(s) did not answer in time: %s", len(all.Missing), strings.Join(all.Missing, ", "))
	}
	return nil
}

// connection is one entry of GET /v1/connections.
type connection struct {
	ID       string   `json:"connection_id"`
	User     string   `json:"user"`
	Remote   string   `json:"remote_addr"`
	Channels []string `json:"channels"`
	Age      float64  `json:"age_seconds"`
	Queue    int      `json:"queue_bytes"`
	Node     string   `json:"node"`
}

func localConnectionsTable(w io.Writer, raw json.RawMessage) error {
	var cs []struct {
		ID       string   `json:"connection_id"`
		User     string   `json:"user"`
		Remote   string   `json:"remote_addr"`
		Channels []string `json:"channels"`
		Age      float64  `json:"age_seconds"`
		Queue    int      `json:"queue_bytes"`
	}
	if err := json.Unmarshal(raw, &cs); err != nil {
		return err
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{c.ID, orDash(c.User), orDash(c.Remote), orDash(strings.Join(c.Channels, ",")),
			(time.Duration(c.Age) * time.Second).String(), fmt.Sprint(c.Queue)})
	}
	if err := table(w, "ID\tUSER\tREMOTE\tCHANNELS\tAGE\tQUEUED", rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d connection(s)\n", len(cs))
	return err
}

func channelsTable(w io.Writer, raw json.RawMessage) error {
	var list struct {
		Channels []struct {
			Channel     string `json:"channel"`
			Subscribers int    `json:"subscribers"`
			Offset      uint64 `json:"offset"`
			Epoch       string `json:"epoch"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	rows := make([][]string, 0, len(list.Channels))
	for _, c := range list.Channels {
		rows = append(rows, []string{c.Channel, fmt.Sprint(c.Subscribers), fmt.Sprint(c.Offset), orDash(c.Epoch)})
	}
	return table(w, "CHANNEL\tSUBSCRIBERS\tOFFSET\tEPOCH", rows)
}

func presenceTable(w io.Writer, raw json.RawMessage) error {
	var p struct {
		Clients []struct {
			ID   string          `json:"connection_id"`
			User string          `json:"user"`
			Node string          `json:"node"`
			Info json.RawMessage `json:"info"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	rows := make([][]string, 0, len(p.Clients))
	for _, c := range p.Clients {
		rows = append(rows, []string{c.ID, orDash(c.User), orDash(c.Node), orDash(string(c.Info))})
	}
	return table(w, "CONNECTION\tUSER\tNODE\tINFO", rows)
}

func historyTable(w io.Writer, raw json.RawMessage) error {
	var p struct {
		Channel  string `json:"channel"`
		Offset   uint64 `json:"offset"`
		Epoch    string `json:"epoch"`
		Complete bool   `json:"complete"`
		Events   []struct {
			Offset  uint64          `json:"offset"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	rows := make([][]string, 0, len(p.Events))
	for _, e := range p.Events {
		rows = append(rows, []string{fmt.Sprint(e.Offset), e.Type, orDash(string(e.Payload))})
	}
	if err := table(w, "OFFSET\tTYPE\tPAYLOAD", rows); err != nil {
		return err
	}
	note := ""
	if !p.Complete {
		note = " (events after --since are no longer all kept)"
	}
	_, err := fmt.Fprintf(w, "%s: %d event(s); position offset %d epoch %s%s\n", p.Channel, len(p.Events), p.Offset, orDash(p.Epoch), note)
	return err
}

// resultTable prints an action's answer, and fails when a node did not
// answer: a script must not take a partial disconnect for a done one.
func resultTable(w io.Writer, raw json.RawMessage) error {
	var r control.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d connection(s) on %d node(s)\n", r.Action.Op, r.Applied, len(r.Nodes))
	rows := make([][]string, 0, len(r.Nodes))
	for _, n := range r.Nodes {
		rows = append(rows, []string{n.Node, fmt.Sprint(n.Applied), orDash(n.Error)})
	}
	if err := table(w, "NODE\tAPPLIED\tERROR", rows); err != nil {
		return err
	}
	if len(r.Missing) > 0 {
		return fmt.Errorf("%d node(s) did not answer in time: %s", len(r.Missing), strings.Join(r.Missing, ", "))
	}
	return nil
}

func revocationsTable(w io.Writer, raw json.RawMessage) error {
	var rs []control.Revocation
	if err := json.Unmarshal(raw, &rs); err != nil {
		return err
	}
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		kind, value, _ := strings.Cut(r.Key, ":")
		rows = append(rows, []string{kind, value, r.Until.Format(time.RFC3339), time.Until(r.Until).Round(time.Second).String()})
	}
	return table(w, "BY\tVALUE\tUNTIL\tLEFT", rows)
}

func nodesTable(w io.Writer, raw json.RawMessage) error {
	var n struct {
		Node  string   `json:"node"`
		Nodes []string `json:"nodes"`
		Taps  int      `json:"taps"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return err
	}
	rows := make([][]string, 0, len(n.Nodes))
	for _, id := range n.Nodes {
		self := ""
		if id == n.Node {
			self = "this daemon"
		}
		rows = append(rows, []string{id, self})
	}
	return table(w, "NODE\t", rows)
}

// tapLine prints one tap line for a person.
func tapLine(w io.Writer, line []byte) error {
	var m struct {
		Kind    string          `json:"kind"`
		Time    time.Time       `json:"time"`
		Channel string          `json:"channel"`
		Type    string          `json:"type"`
		Offset  uint64          `json:"offset"`
		Payload json.RawMessage `json:"payload"`
		Node    string          `json:"node"`
		Action  control.Action  `json:"action"`
		Count   int             `json:"count"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return err
	}
	var err error
	switch m.Kind {
	case "event":
		_, err = fmt.Fprintf(w, "%s  %s #%d %s %s\n", m.Time.Format("15:04:05.000"), m.Channel, m.Offset, m.Type, orDash(string(m.Payload)))
	case "control":
		a := m.Action
		_, err = fmt.Fprintf(w, "%s  control %s %s=%s %s (node %s)\n", m.Time.Format("15:04:05.000"), a.Op, a.By, a.Value, a.Channel, m.Node)
	case "dropped":
		_, err = fmt.Fprintf(w, "…  %d line(s) dropped: this tap fell behind\n", m.Count)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
