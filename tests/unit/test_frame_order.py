"""The tracker's input ordering: frames from two band topics come out in time order."""
import itertools

from qiki_radar.frame_order import FrameReorderBuffer

LR, SR = 0, 1


def _frames(until_s=2.0):
    """LR every 0.2 s and SR every 0.1 s, as the radar stamps them."""
    out = [(round(i * 0.2, 10), LR, 0.2) for i in range(int(until_s / 0.2) + 1)]
    out += [(round(i * 0.1, 10), SR, 0.1) for i in range(int(until_s / 0.1) + 1)]
    return out


def _run(arrivals, max_wait_s=10.0):
    buf = FrameReorderBuffer((LR, SR), max_wait_s)
    released = []
    for t, band, period in arrivals:
        released += [item for _, item in buf.push(t, band, period, (t, band))]
    return released, buf


def test_late_lr_frame_is_released_before_later_sr_frames():
    # SR frames are delivered up to 0.3 s ahead of the LR frames of the same time span.
    lr = [f for f in _frames() if f[1] == LR]
    sr = [f for f in _frames() if f[1] == SR]
    arrivals = sr[:4] + lr[:1] + sr[4:8] + lr[1:3] + sr[8:] + lr[3:]
    released, _ = _run(arrivals)
    assert released == sorted(released), "frames must leave in (time, band) order"
    assert len(released) >= len(arrivals) - 2   # only the newest instant may still wait


def test_order_does_not_depend_on_delivery_order():
    frames = _frames(0.6)
    outputs = set()
    for perm in itertools.islice(itertools.permutations(frames[:4] + frames[7:11]), 0, 2000, 37):
        # keep each band's own frames in order, as DDS does per topic
        lr = [f for f in perm if f[1] == LR]
        sr = [f for f in perm if f[1] == SR]
        if lr != sorted(lr) or sr != sorted(sr):
            continue
        released, _ = _run(list(perm))
        outputs.add(tuple(released))
    assert len(outputs) == 1


def test_same_instant_lr_before_sr():
    released, buf = _run([(0.0, SR, 0.1), (0.0, LR, 0.2), (0.1, SR, 0.1), (0.2, SR, 0.1), (0.2, LR, 0.2)])
    assert released[:2] == [(0.0, LR), (0.0, SR)]
    assert (0.1, SR) in released


def test_silent_band_does_not_block_forever():
    arrivals = [(round(i * 0.1, 10), SR, 0.1) for i in range(30)]
    released, buf = _run(arrivals, max_wait_s=1.0)
    assert released[0] == (0.0, SR)
    assert released[-1][0] >= 2.9 - 1.0 - 1e-9
    assert len(buf) <= 11
