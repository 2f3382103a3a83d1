"""Every wire protocol iii-live speaks, as sans-I/O sessions and message builders.

``stream_wire``
    The iii stream port's messages, both directions. Server to client: the ``stream``
    wrapper carrying ``sync``, ``create``, ``update``, ``delete``, ``event`` or
    ``unauthorized``. Client to server: ``join`` and ``leave``.
``stream_session``
    One stream-port connection: join/leave policy, limits, ``stream:join`` vetoes.
``worker_session``
    The iii worker protocol on the engine port: ``workerregistered``, ``registerfunction``,
    ``unregisterfunction``, ``registertrigger``, ``unregistertrigger``,
    ``triggerregistrationresult``, ``registrationrejected``, ``invokefunction``,
    ``invocationresult``, ``reattach``, ``ping``/``pong``.
``widget_session``
    The notebook widget comm: the ``_keyframe`` state and ``delta`` messages; from a view,
    ``ready`` and ``resync``.

A transport (a Tornado handler, the kernel comm) creates a session with the engine's
``StreamCore`` and a ``send`` callable, feeds it what it receives and closes it when it
goes; the session decides everything else.
"""
