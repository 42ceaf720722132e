"""Shared test double of qiki_ros.step_ports.StepPorts: keeps what a step class sent, per port, until taken."""
from collections import Counter, defaultdict


class Ports:
    """StepPorts that keep what was sent, per port (`readers`: the ports something reads)."""

    def __init__(self, readers=()):
        self.sent, self.counters, self.lines, self.readers = defaultdict(list), Counter(), [], set(readers)

    def publish(self, port, msg):
        self.sent[port].append(msg)

    def has_readers(self, port):
        return port in self.readers

    def count_input(self, counter, text, n=1):
        self.counters[counter] += n

    def count(self, counter):
        return self.counters[counter]

    def log(self, level, text, throttle_key=None):
        self.lines.append(text)

    def take(self):
        sent, self.sent = self.sent, defaultdict(list)
        return sent
