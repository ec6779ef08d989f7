"""What other systems hear of a change: domain events, and the webhooks that carry them.

1. ``domain_events``: the events a change to a session, or a movement of credits, means. Pure.
2. ``event_bus``: puts them on the EventBridge bus (the publish function).
3. ``webhooks``: the bus's rule queues every event for the delivery function, which POSTs it,
   signed, to each endpoint an admin subscribed (see its own docstring).

The package imports nothing eagerly.
"""
