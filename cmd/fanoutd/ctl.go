package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/control"
	"github.com/spf13/cobra"
)

// installedConfig is the packaged configuration: ctl reads the socket
// path from it when no --config or --socket is given and it exists.
const installedConfig = "/etc/fanoutd/fanoutd.yaml"

// ctlTimeout bounds one ctl call (the tap excepted).
const ctlTimeout = 30 * time.Second

// ctl holds the flags every ctl subcommand shares.
type ctl struct {
	configFile string
	asJSON     bool
}

func newCtlCmd() *cobra.Command {
	c := &ctl{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Act on a running daemon over its local socket: connections, history, disconnect, revoke, tap",
		Long: "ctl talks to the daemon's Unix socket, whose path it reads from the same configuration as the daemon " +
			"(--config, else " + installedConfig + " when it exists, FANOUTD_SOCKET, --socket). Actions apply on every " +
			"node that shares the daemon's broker. Tables by default, the daemon's JSON with --json.",
		Example: `  fanoutd ctl connections --user alice
  fanoutd ctl disconnect --user alice --reason "logged out"
  fanoutd ctl revoke --user mallory --for 24h --reason banned
  fanoutd ctl history project:abc --limit 20
  fanoutd ctl tap 'project:*'`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&c.configFile, "config", "c", "", "configuration file to read the socket path from")
	pf.String("socket", "", "the daemon's Unix socket (overrides the configuration)")
	pf.BoolVar(&c.asJSON, "json", false, "print the daemon's JSON answers")
	cmd.AddCommand(c.connectionsCmd(), c.channelsCmd(), c.presenceCmd(), c.historyCmd(), c.clearHistoryCmd(),
		c.disconnectCmd(), c.revokeCmd(), c.unrevokeCmd(), c.revocationsCmd(), c.subscribeCmd(true),
		c.subscribeCmd(false), c.tapCmd(), c.nodesCmd())
	return cmd
}

// client opens a control client on the configured socket.
func (c *ctl) client(cmd *cobra.Command) (*control.Client, error) {
	file := c.configFile
	if file == "" && !cmd.Flags().Changed("socket") {
		if _, err := os.Stat(installedConfig); err == nil {
			file = installedConfig
		}
	}
	path, err := config.SocketPath(config.Source{File: file, Flags: cmd.Flags()})
	if err != nil {
		return nil, fmt.Errorf("finding the daemon's socket: %w (or give --socket)", err)
	}
	return control.NewClient(path), nil
}

// call runs one request and prints its answer: the JSON with --json, else
// what table prints from it.
func (c *ctl) call(cmd *cobra.Command, method, path string, body any, table func(io.Writer, json.RawMessage) error) error {
	cl, err := c.client(cmd)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), ctlTimeout)
	defer cancel()
	var raw json.RawMessage
	if err := cl.Call(ctx, method, path, body, &raw); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if c.asJSON {
		return printJSON(out, raw)
	}
	return table(out, raw)
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func (c *ctl) connectionsCmd() *cobra.Command {
	var user, channel string
	var local bool
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "List the connections of every node: id, user, address, channels, age, queued bytes, node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if user != "" {
				q.Set("user", user)
			}
			if channel != "" {
				q.Set("channel", channel)
			}
			if local {
				q.Set("local", "1")
				return c.call(cmd, http.MethodGet, "/v1/connections?"+q.Encode(), nil, localConnectionsTable)
			}
			return c.call(cmd, http.MethodGet, "/v1/connections?"+q.Encode(), nil, connectionsTable)
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "only this daemon's (no broker round trip)")
	cmd.Flags().StringVar(&user, "user", "", "only this user's")
	cmd.Flags().StringVar(&channel, "channel", "", "only the subscribers of this channel")
	return cmd
}

func (c *ctl) channelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "channels",
		Short: "List the channels with subscribers or history, with their positions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.call(cmd, http.MethodGet, "/v1/channels", nil, channelsTable)
		},
	}
}

func (c *ctl) presenceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "presence CHANNEL",
		Short: "List a channel's subscribers (on every node, with a broker that shares presence)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.call(cmd, http.MethodGet, "/v1/channels/"+url.PathEscape(args[0])+"/presence", nil, presenceTable)
		},
	}
}

func (c *ctl) historyCmd() *cobra.Command {
	var since uint64
	var epoch string
	var limit int
	cmd := &cobra.Command{
		Use:   "history CHANNEL",
		Short: "Show what a channel's history holds, and its position",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if cmd.Flags().Changed("since") {
				q.Set("since", fmt.Sprint(since))
				q.Set("epoch", epoch)
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			return c.call(cmd, http.MethodGet, "/v1/channels/"+url.PathEscape(args[0])+"/history?"+q.Encode(), nil, historyTable)
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "only the events after this offset (with --epoch)")
	cmd.Flags().StringVar(&epoch, "epoch", "", "the epoch of --since")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (without --since: the last ones)")
	return cmd
}

func (c *ctl) clearHistoryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "clear-history CHANNEL",
		Short: "Forget a channel's history (clients resuming from before it get recovered:false)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.call(cmd, http.MethodDelete, "/v1/channels/"+url.PathEscape(args[0])+"/history", nil, resultTable)
		},
	}
}

// selector is the flags that pick connections.
type selector struct{ user, connection, channel, jti string }

func (s *selector) flags(cmd *cobra.Command, channel bool) {
	f := cmd.Flags()
	f.StringVar(&s.user, "user", "", "every connection of this user (the token's sub)")
	f.StringVar(&s.connection, "connection", "", "one connection, by id")
	f.StringVar(&s.jti, "jti", "", "the connections of this token id")
	if channel {
		f.StringVar(&s.channel, "channel", "", "every subscriber of this channel")
	}
}

func (s *selector) body() map[string]any {
	b := map[string]any{}
	for k, v := range map[string]string{"user": s.user, "connection_id": s.connection, "channel": s.channel, "jti": s.jti} {
		if v != "" {
			b[k] = v
		}
	}
	return b
}

func (c *ctl) disconnectCmd() *cobra.Command {
	var sel selector
	var code int
	var reason string
	cmd := &cobra.Command{
		Use:   "disconnect",
		Short: "Close connections on every node (4004: the client may reconnect; 4403 for a ban)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := sel.body()
			b["code"], b["reason"] = code, reason
			return c.call(cmd, http.MethodPost, "/v1/disconnect", b, resultTable)
		},
	}
	sel.flags(cmd, true)
	cmd.Flags().IntVar(&code, "code", control.CloseDisconnected, "WebSocket close code, 4000-4999")
	cmd.Flags().StringVar(&reason, "reason", "", "close reason the client sees")
	return cmd
}

func (c *ctl) revokeCmd() *cobra.Command {
	var sel selector
	var dur time.Duration
	var until, reason string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Refuse a user or token until a time, on every node; close its connections with 4403",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := sel.body()
			b["reason"] = reason
			switch {
			case dur > 0 && until != "":
				return errors.New("give --for or --until, not both")
			case dur > 0:
				b["for"] = dur.String()
			case until != "":
				b["until"] = until
			default:
				return errors.New("give --for (e.g. 1h) or --until (RFC 3339)")
			}
			return c.call(cmd, http.MethodPost, "/v1/revoke", b, resultTable)
		},
	}
	sel.flags(cmd, false)
	cmd.Flags().DurationVar(&dur, "for", 0, "how long (e.g. 1h, 30m)")
	cmd.Flags().StringVar(&until, "until", "", "until when (RFC 3339, e.g. 2026-12-31T00:00:00Z)")
	cmd.Flags().StringVar(&reason, "reason", "", "close reason the client sees")
	return cmd
}

func (c *ctl) unrevokeCmd() *cobra.Command {
	var sel selector
	cmd := &cobra.Command{
		Use:   "unrevoke",
		Short: "End a revocation early, on every node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.call(cmd, http.MethodDelete, "/v1/revoke", sel.body(), resultTable)
		},
	}
	sel.flags(cmd, false)
	return cmd
}

func (c *ctl) revocationsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revocations",
		Short: "List the revocations in force",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.call(cmd, http.MethodGet, "/v1/revocations", nil, revocationsTable)
		},
	}
}

func (c *ctl) subscribeCmd(subscribe bool) *cobra.Command {
	var sel selector
	var reason string
	use, short, path := "subscribe CHANNEL", "Subscribe connections to a channel on every node, whatever their token says", "/v1/subscribe"
	if !subscribe {
		use, short, path = "unsubscribe CHANNEL", "Take connections (default: every subscriber) out of a channel on every node", "/v1/unsubscribe"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b := sel.body()
			b["channel"] = args[0]
			if !subscribe && reason != "" {
				b["reason"] = reason
			}
			return c.call(cmd, http.MethodPost, path, b, resultTable)
		},
	}
	cmd.Flags().StringVar(&sel.user, "user", "", "every connection of this user")
	cmd.Flags().StringVar(&sel.connection, "connection", "", "one connection, by id")
	if !subscribe {
		cmd.Flags().StringVar(&reason, "reason", "", "reason the client sees")
	}
	return cmd
}

func (c *ctl) nodesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "nodes",
		Short: "List the nodes this daemon hears on its broker",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.call(cmd, http.MethodGet, "/v1/nodes", nil, nodesTable)
		},
	}
}

func (c *ctl) tapCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tap [PATTERNS]",
		Short: "Follow the events published to matching channels, and control actions (Ctrl-C ends)",
		Long: "PATTERNS is a comma-separated list of shell patterns (project:*,user:alice); none means every channel. " +
			"A tap that falls behind loses lines, never slows delivery, and says how many it lost.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			patterns := "*"
			if len(args) == 1 {
				patterns = args[0]
			}
			cl, err := c.client(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			out := cmd.OutOrStdout()
			return cl.Tap(cmd.Context(), patterns, func(line []byte) error {
				if c.asJSON {
					_, err := fmt.Fprintf(out, "%s\n", line)
					return err
				}
				return tapLine(out, line)
			})
		},
	}
}
