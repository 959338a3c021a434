"""The platform's base: settings, process helpers, locks and every validation rule, each defined once.

Every other package of the project (controller, builder, scheduler, router, client, deisctl) may import
it; it imports none of them.
"""
