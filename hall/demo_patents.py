"""Made-up patents for the demo's local catalogue (LS-3), so that patent lookup finds something
on a fresh ``make run``: ``hall seed-demo`` calls ``seed_patents``.

The set is fixed (a seeded generator, no clock): every run describes the same patents with the
same numbers, so a second seed updates them instead of adding more. Their holders are the demo's
universities and institutes (``hall.demo.SELLER_ORGS``), so a demo seller finds its own patents
(LS-4 "own"); numbers carry right check digits, grant dates run from 2019 to 2026, and the legal
statuses mix 有效, 失效 and 审中 (pending applications have no grant date).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Final

from hall.patents import Patent, check_digit, make_patent
from hall.store.patents import PatentCatalogue

SUBJECTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # field: (subjects of titles, IPC classes: a subject's class is the one at its index, in turn)
    "information": (
        ("基于深度学习的遥感影像变化检测", "面向边缘计算的任务卸载与资源调度", "低功耗广域物联网终端的自适应组网",
         "基于联邦学习的隐私保护数据共享", "基于知识图谱的科技成果智能推荐", "多源异构数据的实时融合处理",
         "面向工业互联网的时间敏感网络调度", "基于区块链的科技成果确权存证", "轻量化卷积神经网络的图像分割",
         "基于大语言模型的专利文本自动分类"),
        ("G06N 3/08", "G06F 16/35", "H04W 28/02", "G06T 7/00", "H04L 9/40", "G06V 10/82"),
    ),
    "medicine": (
        ("靶向肿瘤微环境的纳米药物递送载体", "新型冠状病毒中和抗体", "基于CRISPR的核酸快速检测试剂盒",
         "中药复方提取物的缓释制剂", "可降解镁合金心血管支架", "基于单细胞测序的肿瘤分型",
         "重组胶原蛋白水凝胶敷料"),
        ("A61K 9/51", "C07K 16/10", "C12Q 1/6844", "A61K 36/00", "A61L 31/02", "A61L 15/32"),
    ),
    "manufacturing": (
        ("工业机器人焊缝轨迹视觉跟踪", "数控机床主轴热误差补偿", "基于数字孪生的产线故障预测",
         "柔性电子皮肤触觉传感阵列", "高精度光纤光栅温度传感器", "协作机器人的力位混合控制",
         "激光增材制造熔池在线监测"),
        ("B25J 9/16", "G05B 19/404", "G05B 23/02", "G01L 1/20", "G01K 11/32", "B22F 10/85"),
    ),
    "environment": (
        ("城市污水低碳脱氮除磷", "燃煤烟气多污染物协同脱除", "重金属污染土壤的钝化修复",
         "农业面源污染的生态拦截", "餐厨垃圾厌氧消化产沼", "太湖蓝藻水华的快速预警"),
        ("C02F 3/30", "B01D 53/75", "B09C 1/08", "E02B 3/02", "C12P 5/02", "G01N 33/18"),
    ),
    "materials": (
        ("高导热氮化硼/环氧树脂复合材料", "可降解聚乳酸基医用缝合线材料", "石墨烯增强铝基复合材料",
         "耐高温聚酰亚胺薄膜", "自修复防腐涂层", "高强韧碳纤维预浸料"),
        ("C08L 63/00", "C08K 3/38", "C22C 21/00", "C08G 73/10", "C09D 5/08", "C08J 5/24"),
    ),
    "energy": (
        ("锂离子电池健康状态在线估计", "钙钛矿太阳能电池的界面钝化", "风光储微电网能量管理优化",
         "固态电解质的界面改性", "氢燃料电池膜电极", "海上风电机组的故障诊断"),
        ("H01M 10/48", "H10K 30/88", "H02J 3/32", "H01M 10/0562", "H01M 8/1004", "F03D 17/00"),
    ),
    "agriculture": (
        ("耐盐碱水稻新品种选育", "设施蔬菜的水肥一体化调控", "小麦赤霉病的生物防治",
         "土壤有机质快速测定", "秸秆还田的微生物腐解菌剂", "茶树扦插苗的快繁"),
        ("A01H 1/02", "A01G 25/02", "A01N 63/22", "G01N 21/3563", "C05F 11/08", "A01G 2/10"),
    ),
}
HOLDER_FIELDS: Final = {
    "南京大学": ("information", "medicine", "materials", "environment"),
    "东南大学": ("information", "manufacturing", "energy", "materials"),
    "南京航空航天大学": ("manufacturing", "materials", "energy", "information"),
    "江苏省农业科学院": ("agriculture", "environment", "medicine"),
    "中国科学院南京土壤研究所": ("environment", "agriculture"),
}
"""What each demo seller patents (its names are ``hall.demo.SELLER_ORGS``'s)."""
_PROCESS_FORMS: Final = (("一种{}方法", "方法"), ("一种{}装置", "装置"), ("一种{}系统", "系统"),
                         ("一种{}方法及系统", "方法"))  # fmt: skip
_PRODUCT_FORMS: Final = (("一种{}及其制备方法", "产品"), ("一种{}及其应用", "产品"))
_PRODUCTS: Final = ("载体", "抗体", "试剂盒", "制剂", "支架", "敷料", "材料", "薄膜", "涂层", "预浸料", "膜电极", "菌剂")
"""Subjects ending so are things made, titled "…及其制备方法"; the others are processes and devices."""
_EFFECTS: Final = ("显著提高了准确率和稳定性", "降低了能耗与运行成本", "缩短了处理时间、便于推广应用",
                   "结构简单、可靠性高", "适用范围广、易于工业化生产")  # fmt: skip
_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
_GIVEN: Final = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "军", "杰", "涛", "明", "超", "秀英", "志强",
                 "建华", "海燕", "晓东", "丽君", "文博", "子涵", "思远", "雨桐", "浩然", "嘉怡")  # fmt: skip
COUNT: Final = 120
FIRST_GRANT: Final = date(2019, 1, 1)
LAST_GRANT: Final = date(2026, 6, 30)


def demo_patents(count: int = COUNT, seed: int = 2026) -> list[Patent]:
    """``count`` made-up patents, the same ones for the same arguments, with distinct numbers.
    Built through ``make_patent``, so they are exactly what an import of them would store."""
    rng = random.Random(seed)
    holders = list(HOLDER_FIELDS)
    patents: dict[str, Patent] = {}
    titles: set[str] = set()
    while len(patents) < count:
        holder = holders[len(patents) % len(holders)]
        field = rng.choice(HOLDER_FIELDS[holder])
        subjects, classes = SUBJECTS[field]
        subject = rng.choice(subjects)
        form, thing = rng.choice(_PRODUCT_FORMS if subject.endswith(_PRODUCTS) else _PROCESS_FORMS)
        title = form.format(subject)
        if title in titles:
            continue
        status = rng.choices(("有效", "失效", "审中"), weights=(75, 10, 15))[0]
        if status == "审中":
            filed = date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))
            granted = None
        else:
            granted = FIRST_GRANT + timedelta(days=rng.randrange((LAST_GRANT - FIRST_GRANT).days + 1))
            filed = granted - timedelta(days=rng.randrange(540, 1500))
        digits = f"{filed.year}1{rng.randrange(10**7):07d}"
        inventors = "；".join(rng.choice(_SURNAMES) + rng.choice(_GIVEN) for _ in range(rng.randrange(2, 6)))
        patent = make_patent({
            "number": f"ZL{digits}.{check_digit(digits)}", "title": title, "holder": holder,
            "grant_date": granted, "ipc": classes[subjects.index(subject) % len(classes)], "legal_status": status,
            "application_date": filed, "inventors": inventors,
            "abstract": f"本发明公开了{title.removeprefix('一种')}。该{thing}针对现有技术中存在的不足，"
                        f"提出了改进的技术方案，{rng.choice(_EFFECTS)}，已完成实验验证，适合企业转化实施。",
        })  # fmt: skip
        if patent.number not in patents:
            patents[patent.number] = patent
            titles.add(title)
    return list(patents.values())


async def seed_patents(catalogue: PatentCatalogue, now: int) -> int:
    """Put the demo patents in the catalogue (added, or updated on a second run); how many."""
    patents = demo_patents()
    await catalogue.upsert(patents, now)
    return len(patents)
