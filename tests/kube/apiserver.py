"""Stand-in for the Kubernetes API server's mutating admission, for the coexistence tests (no API
server runs here).

Follows k8s.io/apiserver's mutating webhook dispatcher (plugin/webhook/mutating/dispatcher.go and
reinvocationcontext.go) and the webhook configuration manager:
  - webhooks run in the order of their MutatingWebhookConfiguration's name (sort.SliceStable by
    name), then in their order inside the configuration;
  - a webhook whose patch changes the object marks every earlier-called webhook with
    reinvocationPolicy IfNeeded for reinvocation, and asks the admission chain for one more round;
  - in that single extra round only marked webhooks are called (a webhook never runs for the first
    time there), and a change there marks the IfNeeded webhooks called before it in the round;
  - a rejection (or an error from a webhook with failurePolicy Fail) rejects the request.
Object defaulting between webhooks and the in-tree admission plugins are not modelled.
"""
import copy


class Rejected(Exception):
    def __init__(self, webhook, message):
        super().__init__("admission webhook %r denied the request: %s" % (webhook, message))
        self.webhook = webhook
        self.message = message


class Webhook:
    """One webhook of a MutatingWebhookConfiguration.

    call(obj) returns the mutated object (or obj itself) or raises Rejected;
    matches(obj) stands for the rules, objectSelector and namespaceSelector.
    """

    def __init__(self, configuration, name, call, reinvocation="Never", matches=lambda o: True):
        self.configuration = configuration
        self.name = name
        self.call = call
        self.reinvocation = reinvocation
        self.matches = matches


def admit(obj, webhooks):
    """Runs the mutating admission chain; returns (object, calls) with calls a list of
    (round, webhook name, changed)."""
    hooks = sorted(webhooks, key=lambda w: w.configuration)  # stable: keeps in-config order
    obj = copy.deepcopy(obj)
    previously, reinvoke = set(), set()
    calls = []
    should_reinvoke = False
    for round_ in (0, 1):
        if round_ == 1 and not should_reinvoke:
            break
        for i, h in enumerate(hooks):
            if not h.matches(obj):
                continue
            if round_ == 1 and i not in reinvoke:
                continue
            new = h.call(copy.deepcopy(obj))
            changed = new != obj
            calls.append((round_, h.name, changed))
            obj = new
            if changed:
                reinvoke |= previously
                previously = set()
                should_reinvoke = True
            if h.reinvocation == "IfNeeded":
                previously.add(i)
    return obj, calls
