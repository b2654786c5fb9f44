package daemon

import "iter"

// subList is a session's subscriptions in the order they were made, a
// singly linked list through subscription.next, guarded by the session's
// ctl. A slice would cost the session a 24-byte header and each
// subscription 8 bytes of backing array; the link costs the subscription
// 8 bytes and the session one pointer, which keeps Session in a smaller
// allocator size class. Walking it is what a slice search was already:
// most sessions hold a handful of channels, at most MaxSubscriptions.
type subList struct{ head *subscription }

// add appends sub, which must not be in a list.
func (l *subList) add(sub *subscription) {
	p := &l.head
	for *p != nil {
		p = &(*p).next
	}
	*p = sub
}

// find returns the subscription to name, or nil.
func (l *subList) find(name string) *subscription {
	sub, _ := l.lookup(name)
	return sub
}

// lookup returns the subscription to name, or nil and how many
// subscriptions there are: one walk for a subscribe's two questions.
func (l *subList) lookup(name string) (*subscription, int) {
	n := 0
	for sub := l.head; sub != nil; sub = sub.next {
		if sub.ch.name == name {
			return sub, n
		}
		n++
	}
	return nil, n
}

// len counts the subscriptions.
func (l *subList) len() int {
	n := 0
	for sub := l.head; sub != nil; sub = sub.next {
		n++
	}
	return n
}

// take unlinks and returns the subscription to name, or nil.
func (l *subList) take(name string) *subscription {
	for p := &l.head; *p != nil; p = &(*p).next {
		if sub := *p; sub.ch.name == name {
			*p, sub.next = sub.next, nil
			return sub
		}
	}
	return nil
}

// deleteFunc unlinks each subscription for which del returns true, in
// order; del may act on the subscription it is given.
func (l *subList) deleteFunc(del func(*subscription) bool) {
	p := &l.head
	for *p != nil {
		sub := *p
		if del(sub) {
			*p, sub.next = sub.next, nil
			continue
		}
		p = &sub.next
	}
}

// all yields the subscriptions in order. The loop's body must not change
// the list.
func (l *subList) all() iter.Seq[*subscription] {
	return func(yield func(*subscription) bool) {
		for sub := l.head; sub != nil; sub = sub.next {
			if !yield(sub) {
				return
			}
		}
	}
}
