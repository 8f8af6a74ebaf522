"""Demo data: a session of lots with the kind of titles a university patent auction lists.

Used by ``hall seed-demo`` (``make run``, load tools, browser tests). Deterministic for a
given seed so that two runs describe the same session.
"""

from __future__ import annotations

import random

from hall.engine import LotSpec, Mode
from hall.runtime import Runtime

TITLES: tuple[tuple[str, str], ...] = (
    ("新一代信息技术", "一种基于深度学习的遥感影像变化检测方法"),
    ("新一代信息技术", "一种面向边缘计算的任务卸载与资源调度方法"),
    ("新一代信息技术", "一种低功耗广域物联网终端的自适应组网方法"),
    ("新一代信息技术", "一种基于联邦学习的隐私保护数据共享系统"),
    ("生物医药", "一种靶向肿瘤微环境的纳米药物递送载体及其制备方法"),
    ("生物医药", "一种新型冠状病毒中和抗体及其应用"),
    ("生物医药", "一种基于CRISPR的核酸快速检测试剂盒"),
    ("智能制造", "一种工业机器人焊缝轨迹视觉跟踪方法"),
    ("智能制造", "一种数控机床主轴热误差补偿方法及装置"),
    ("智能制造", "一种基于数字孪生的产线故障预测系统"),
    ("节能环保", "一种城市污水低碳脱氮除磷工艺"),
    ("节能环保", "一种燃煤烟气多污染物协同脱除装置"),
    ("新材料", "一种高导热氮化硼/环氧树脂复合材料及其制备方法"),
    ("新材料", "一种可降解聚乳酸基医用缝合线材料"),
    ("新能源", "一种锂离子电池健康状态在线估计方法"),
    ("新能源", "一种钙钛矿太阳能电池的界面钝化方法"),
    ("新能源", "一种风光储微电网能量管理优化方法"),
)

MINUTE = 60_000


def demo_specs(now: int, *, lots: int, live: bool, duration: int, seed: int = 2026) -> list[tuple[str, str, LotSpec]]:
    """``lots`` timed lots: live from a minute ago when ``live``, else opening in a day."""
    rng = random.Random(seed)
    bidding_start = now - MINUTE if live else now + 24 * 60 * MINUTE
    specs = []
    for i in range(lots):
        session, title = TITLES[i % len(TITLES)]
        increment = rng.choice((1_000, 2_000, 5_000, 10_000))
        start = increment * rng.randrange(20, 400)
        spec = LotSpec(
            seller_org=1 + i % 5,
            start_price=start,
            increment=increment,
            reserve=start + increment * rng.randrange(0, 10) if rng.random() < 0.3 else None,
            publicity_start=bidding_start - 7 * 24 * 60 * MINUTE,
            bidding_start=bidding_start,
            end=bidding_start + MINUTE + duration * 1000 if live else bidding_start + duration * 1000,
            mode=Mode.TIMED,
        )
        suffix = f"（{i // len(TITLES) + 1}）" if lots > len(TITLES) else ""
        specs.append((session, title + suffix, spec))
    return specs


async def seed(runtime: Runtime, *, lots: int, live: bool, duration: int) -> list[int]:
    ids = []
    for session, title, spec in demo_specs(runtime.clock(), lots=lots, live=live, duration=duration):
        ids.append((await runtime.create_lot(spec, title, session)).id)
    return ids
