package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/ipc"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// packagedSocket is where the Debian package's socket unit puts the
// publish API (systemd/fanoutd.socket, systemd/fanoutd.yaml).
const packagedSocket = "/run/fanoutd/fanoutd.sock"

func newPublishCmd() *cobra.Command {
	var channel, typ, data, key string
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish one event over the local Unix socket",
		Long: "Publishes one event to the daemon's Unix socket: --socket, else the configuration's socket " +
			"(--config and FANOUTD_SOCKET), else ./fanoutd.sock when it exists, else the installed daemon's " +
			packagedSocket + " when that exists.",
		Example: `  fanoutd publish --channel project:abc-123 --type story.status.changed \
    --data '{"storyId":"6-5","status":"done"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var payload json.RawMessage
			if data != "" {
				if !json.Valid([]byte(data)) {
					return fmt.Errorf("--data is not valid JSON")
				}
				payload = json.RawMessage(data)
			}
			socket, err := publishSocket(cmd.Flags(), nil, fileExists)
			if err != nil {
				return err
			}
			c := ipc.NewClient(socket)
			defer c.Close()
			pos, err := c.PublishEvents(cmd.Context(), []ipc.Event{{Channel: channel, Type: typ, Payload: payload, IdempotencyKey: key}})
			if err != nil {
				return err
			}
			for _, p := range pos {
				dup := ""
				if p.Duplicate {
					dup = " (duplicate: published before with this key)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "published %s offset %d epoch %s%s\n", p.Channel, p.Offset, p.Epoch, dup)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringP("config", "c", "", "YAML configuration file to read the socket path from")
	f.String("socket", "", "the daemon's Unix socket (default: see above)")
	f.StringVar(&channel, "channel", "", "channel name (required)")
	f.StringVar(&typ, "type", "", "event type (required)")
	f.StringVar(&data, "data", "", "JSON payload")
	f.StringVar(&key, "idempotency-key", "", "a retry with the same key within the daemon's window publishes nothing new")
	_ = cmd.MarkFlagRequired("channel")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

// publishSocket picks the socket as the command's help says. The
// configuration is read with config.Resolve, not Load: a publisher may not
// read the daemon's secret file, and needs only the socket key. environ
// nil means os.Environ().
func publishSocket(fs *pflag.FlagSet, environ []string, exists func(string) bool) (string, error) {
	if fs.Changed("socket") {
		return fs.Lookup("socket").Value.String(), nil
	}
	cfg, err := config.Resolve(config.Source{File: fs.Lookup("config").Value.String(), Environ: environ})
	if err != nil {
		return "", err
	}
	def := config.Default().Socket
	switch {
	case cfg.Socket != def:
		return cfg.Socket, nil
	case !exists(def) && exists(packagedSocket):
		return packagedSocket, nil
	}
	return def, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
