package main

import (
	"encoding/json"
	"fmt"

	"github.com/fanoutd/fanoutd/ipc"
	"github.com/spf13/cobra"
)

func newPublishCmd() *cobra.Command {
	var socket, channel, typ, data, key string
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish one event over the local Unix socket",
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
	f.StringVar(&socket, "socket", "./fanoutd.sock", "the daemon's Unix socket")
	f.StringVar(&channel, "channel", "", "channel name (required)")
	f.StringVar(&typ, "type", "", "event type (required)")
	f.StringVar(&data, "data", "", "JSON payload")
	f.StringVar(&key, "idempotency-key", "", "a retry with the same key within the daemon's window publishes nothing new")
	_ = cmd.MarkFlagRequired("channel")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}
