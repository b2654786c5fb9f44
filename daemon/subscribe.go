package daemon

// Position is a place in a channel's stream: Offset within Epoch
// (PROTOCOL.md §3a).
type Position struct {
	Offset uint64
	Epoch  string
}

// Subscribe subscribes the session to channel as a client's subscribe
// command would, with the same checks, reply and replay, for a transport
// whose clients send no commands: the SSE route subscribes the channels
// named in its URL. since, when not nil, resumes from that position.
// A refusal (ErrInvalidChannel, ErrForbidden, ErrTooManySubscriptions) is
// returned and told to the client as an "unsubscribed" frame with the
// error's code and the channel, as a refresh's revocation is, so that it
// knows which channel was refused. Called by the session's transport, one
// call at a time with Message and Closed.
func (s *Session) Subscribe(channel string, since *Position) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	cmd := command{Action: "subscribe", Channel: channel}
	if since != nil {
		cmd.Since = &position{Offset: since.Offset, Epoch: since.Epoch}
	}
	err := s.subscribe(cmd)
	if err != nil {
		s.refused(channel, err)
	}
	return err
}

// refused tells the client that channel was not subscribed, and why.
func (s *Session) refused(channel string, err error) {
	sendReply(s, reply{Type: "unsubscribed", Channel: channel, Code: errorCode(err), Message: err.Error()})
}
