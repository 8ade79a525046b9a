"""Writes tests/data/labelled_notices.jsonl: labelled notice titles for `caigou watchlist eval` (see README.md here).

    python tests/data/make_labelled_notices.py

Titles are composed from kinds of wording, not collected phrases: who buys (police, detention, border, judicial
units; hospitals, CDCs, universities, farms, banks…), what is bought (per watchlist category), and how portals
shape a title (a buyer's own title, an agent's "关于…的公告", a result notice, a title naming no buyer with the buyer
in the body). Each kind has a DEV list, which the scorer may be tuned on, and a HOLDOUT list of other wordings,
other buyers and other title shapes, which it must not be. Deterministic: the same file every run.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("labelled_notices.jsonl")

# ------------------------------------------------------------------------------------------------ who buys
PLACES = {"dev": ["辽源市", "曹县", "秦皇岛市", "赣州市", "绵阳市", "鄂州市", "那曲市", "昌都市", "拉萨市", "信丰县",
                  "滕州市", "固原市"],
          "holdout": ["遵义市", "临沧市", "甘孜州", "玉树州", "阿坝州", "南昌市", "漳州市", "铁岭市", "日喀则市",
                      "达州市", "喀什地区", "商丘市"]}
POLICE = {"dev": ["{p}公安局", "{p}公安局刑事侦查支队", "{p}公安局刑事科学技术研究所", "{p}公安局物证鉴定所",
                  "{p}看守所", "{p}拘留所", "{p}公安局刑侦大队", "山南边境管理支队", "{p}人民检察院",
                  "{p}司法鉴定中心", "{p}公安局城关派出所", "西藏自治区公安厅"],
          "holdout": ["{p}公安局高新分局", "{p}公安局刑警支队", "{p}强制隔离戒毒所", "吐尔尕特出入境边防检查站",
                      "{p}监狱", "{p}中级人民法院", "{p}公安处", "{p}移民管理局", "{p}公安局刑事技术大队",
                      "{p}公安局物证鉴定中心", "青海省公安厅", "{p}司法鉴定所"]}
AGENTS = {"dev": ["江西诚信伟业招标咨询有限公司", "中金招标代理有限责任公司"],
          "holdout": ["四川省国际招标有限公司", "西藏雪域招标代理有限公司"]}
# How a title is shaped. {b}: buyer, {i}: item, {a}: agent. A shape without {b} puts the buyer in the body.
SHAPES = {"dev": ["{b}{i}采购项目", "{b}{i}采购项目竞争性谈判公告", "{a}关于{b}{i}采购项目（项目编号：{code}）竞争性磋商公告",
                  "2022年{b}{i}项目中标（成交）结果公告", "{a}关于{i}采购项目的公开招标公告"],
          "holdout": ["{b}{i}单一来源采购公示", "{b}{i}询价公告", "{b}关于{i}项目的更正公告",
                      "{a}{i}项目招标公告", "{b}2023年度{i}政府采购意向"]}

# ------------------------------------------------------------------------------------------------ what (core)
CORE = {
    "equipment": {"dev": ["遗传分析仪", "DNA测序仪", "快速DNA分析仪", "自动打孔仪", "DNA实验室设备", "法医物证实验室仪器设备",
                          "DNA检验设备", "基因分析仪"],
                  "holdout": ["毛细管电泳遗传分析仪", "全自动快速DNA检测仪", "血卡打孔仪", "DNA实验室仪器", "DNA自动提取工作站",
                              "法医物证检验仪器", "DNA前处理工作站"]},
    "consumable": {"dev": ["DNA耗材", "DNA检验试剂耗材", "采血卡", "FTA卡", "DNA采样卡", "分离胶及甲酰胺", "DNA试剂",
                           "生物样本采集耗材"],
                   "holdout": ["DNA实验室试剂耗材", "血样采集卡", "DNA检测试剂", "POP-4分离胶", "DNA样本袋",
                               "DNA检验专用耗材", "生物检材提取耗材"]},
    "kit": {"dev": ["STR试剂盒", "Y-STR试剂盒", "DNA提取试剂盒", "DNA定量试剂盒", "直扩试剂盒", "DNA检测试剂盒"],
            "holdout": ["Y染色体STR检测试剂盒", "荧光标记STR复合扩增试剂盒", "人类DNA定量试剂盒", "DNA身份鉴定试剂盒",
                        "DNA扩增试剂"]},
    "software-database": {"dev": ["DNA数据库建设", "Y-STR数据库", "DNA实验室建设", "DNA检验外包服务", "DNA检测外包服务",
                                  "家系排查系统"],
                          "holdout": ["DNA信息库扩容", "Y库建设", "男性家族排查系统数据库", "DNA检测服务",
                                      "生物样本检验服务", "DNA实验室外包人员服务"]},
    "program-name": {"dev": ["DNA采集", "DNA信息采集", "DNA血样采集"],
                     "holdout": ["DNA样本采集任务", "DNA数据采集"]},
    "biometric-other": {"dev": ["人脸识别系统", "人像比对系统", "指纹自动识别系统", "人像采集设备", "虹膜采集仪", "声纹采集系统",
                                "生物特征采集设备", "人脸抓拍系统", "人脸布控系统", "指纹采集设备"],
                        "holdout": ["指掌纹采集仪", "人脸比对平台", "人像大数据系统", "声纹识别系统", "步态识别系统",
                                    "人员信息采集系统", "活体指纹采集仪", "人脸智能分析系统", "DNA及指纹采集设备",
                                    "掌纹采集设备"]},
    "vendor": {"dev": ["赛默飞世尔遗传分析仪维保服务", "普洛麦格STR试剂", "中德美联试剂"],
               "holdout": ["阅微基因试剂", "基点认知STR试剂"]},
    "product-model": {"dev": ["3500xL遗传分析仪升级", "GlobalFiler试剂盒", "Identifiler Plus试剂", "PowerPlex 21试剂",
                              "Microreader试剂"],
                      "holdout": ["Goldeneye 20A试剂", "Yfiler Plus试剂", "SeqStudio for HID", "RapidHIT ID",
                                  "AGCU Expressmarker 22试剂"]},
}

# ------------------------------------------------------------------------------------------------ related
RELATED = {"dev": ["法医毒物检验服务", "痕迹检验设备", "现场勘查设备", "尸体解剖室建设", "理化检验仪器", "物证保管柜",
                   "刑事技术设备"],
           "holdout": ["毒化检验试剂", "现场勘验信息系统升级", "法医病理检验服务", "刑事科学技术装备", "涉案物品保管系统",
                       "痕迹物证提取设备"]}

# ------------------------------------------------------------------------------------------------ irrelevant
# (buyer, item) kinds that trip a naive matcher: the buyer's kind with the words it buys.
HARD_NEGATIVES = {
    "dev": [
        (["{p}人民医院", "{p}中医院", "{p}第一人民医院"], ["基因测序仪", "遗传分析仪", "荧光定量PCR仪", "基因检测服务",
                                                     "病理科DNA提取仪", "核酸提取仪", "人脸识别挂号系统", "指纹采血管理系统",
                                                     "智能采血系统"]),
        (["{p}疾病预防控制中心", "{p}疾控中心", "{p}卫生健康委员会"], ["新冠病毒核酸检测试剂", "荧光定量PCR仪", "新冠变异株测序服务",
                                              "核酸提取仪", "二代测序仪"]),
        (["{p}妇幼保健院"], ["新生儿疾病筛查采血卡", "干血斑滤纸片", "无创产前基因检测服务", "遗传代谢病筛查试剂"]),
        (["{p}大学", "{p}职业技术学院", "{p}第一中学", "{p}师范学院"], ["二代测序仪", "基因分析仪", "人脸识别门禁系统", "指纹考勤机",
                                                   "智慧校园人脸识别系统", "DNA提取试剂盒"]),
        (["{p}农业农村局", "{p}动物疫病预防控制中心"], ["非洲猪瘟PCR检测试剂", "农作物品种DNA指纹鉴定", "转基因检测服务",
                                                   "动物疫病核酸提取仪"]),
        (["中国农业银行{p}分行", "{p}农村商业银行", "{p}住房公积金管理中心"], ["人脸识别系统", "柜面指纹仪", "人脸识别身份核验设备"]),
        (["{p}公安局", "{p}监狱", "{p}看守所"], ["新冠病毒核酸检测服务", "疫情防控核酸采样物资", "警服采购", "办公楼维修",
                                            "人脸识别门禁考勤系统", "酒驾血液酒精检测服务", "食堂食材配送", "车辆保险"]),
        (["{p}司法鉴定所"], ["亲子鉴定试剂", "亲权鉴定服务"]),
        (["{p}税务局", "{p}不动产登记中心", "{p}政务服务管理局"], ["人脸识别身份核验系统", "指纹采集仪", "人证核验设备"]),
        (["{p}种子管理站", "{p}水产研究所"], ["品种DNA指纹检测", "水产苗种基因检测", "PCR仪"]),
        (["{p}公安局", "{p}边境管理支队"], ["执法记录仪", "警用无人机", "交通信号灯维护", "办案中心装修",
                                      "网络安全等级保护测评", "天网设备维保服务"]),
        (["{p}肿瘤医院", "{p}医科大学附属医院"], ["肿瘤基因检测服务", "病原微生物宏基因组测序", "遗传分析仪"]),
        (["{p}机场", "{p}轨道交通集团"], ["人脸识别闸机", "安检人脸识别系统"]),
        (["{p}民政局", "{p}养老服务中心", "{p}殡葬管理所"], ["人脸识别养老认证服务", "智能指纹门锁", "老年人体检采血服务",
                                                        "基因健康检测"]),
    ],
    "holdout": [
        (["{p}妇幼保健计划生育服务中心", "{p}中心医院", "{p}卫生院", "{p}中西医结合医院"], ["基因扩增仪", "DNA测序仪", "PCR仪", "遗传病基因检测服务",
                                                            "人脸识别就诊系统", "产前筛查试剂", "采血针"]),
        (["{p}海关", "{p}市场监督管理局", "{p}检验检测中心", "{p}出入境检验检疫局"], ["食品转基因检测PCR仪", "基因扩增仪", "核酸提取仪",
                                                         "肉类物种鉴定试剂"]),
        (["{p}中心血站", "{p}血液中心"], ["采血袋", "献血者指纹识别系统", "核酸检测试剂"]),
        (["中国科学院{p}研究所", "{p}医科大学", "{p}农业科学院"], ["高通量测序仪", "3730xl测序仪维保", "人脸识别科研平台", "虹膜识别实验设备"]),
        (["{p}人力资源和社会保障局", "{p}政务服务中心", "{p}医疗保障局"], ["社保待遇人脸识别认证服务", "人脸识别自助终端", "指纹采集仪"]),
        (["{p}生态环境局", "{p}林业和草原局"], ["环境DNA生物多样性监测服务", "野生动物DNA物种鉴定", "林木品种DNA鉴定"]),
        (["{p}公安局交通警察支队", "{p}出入境边防检查站", "{p}戒毒所"], ["新冠核酸检测服务", "广告印刷服务", "醉驾血液酒精检测",
                                                                "警用车辆采购", "疫情防控抗原检测试剂"]),
        (["{p}第二中学", "{p}小学"], ["校园人脸识别测温门禁", "人脸识别考勤系统"]),
        (["{p}烟草专卖局", "{p}供销合作社"], ["指纹考勤系统", "人脸识别门禁"]),
        (["{p}畜牧兽医站", "{p}渔业局"], ["非洲猪瘟核酸检测", "动物DNA鉴定", "基因扩增仪"]),
        (["{p}儿童医院", "{p}口腔医院"], ["基因测序服务", "采血椅", "PCR实验室建设"]),
        (["{p}公安局", "{p}监狱", "{p}看守所"], ["监控设备维保", "警犬饲料", "被装采购", "视频会议系统",
                                           "物业管理服务"]),
        (["{p}档案馆", "{p}图书馆"], ["人脸识别借阅系统", "指纹识别存包柜"]),
        (["{p}交通运输局", "{p}应急管理局", "{p}体育局"], ["驾驶员人脸识别身份核验", "指纹打卡机", "运动员基因检测",
                                                        "兴奋剂检测采血服务"]),
    ],
}


def labelled_rows() -> list[dict[str, str]]:
    rng = random.Random(11)
    rows: list[dict[str, str]] = []

    def add(split: str, label: str, item: str, buyer: str, category: str = "") -> None:
        place = rng.choice(PLACES[split])
        buyer = buyer.format(p=place)
        shape = rng.choice(SHAPES[split])
        code = f"{rng.choice('ABCDEFGH')}{rng.randint(2022000, 2023999)}"
        title = shape.format(b=buyer, i=item, a=rng.choice(AGENTS[split]), code=code)
        row = {"id": f"{split}-{len(rows) + 1:04d}", "title": title, "label": label, "split": split}
        if "{b}" not in shape:  # the title names no buyer: the body's 采购人 section does
            row["text"] = f"一、采购人信息\n名称：{buyer}\n地址：{place}人民路1号\n二、采购代理机构信息\n名称：{AGENTS[split][0]}"
        if category:
            row["category"] = category
        rows.append(row)

    for split in ("dev", "holdout"):
        for category, kinds in CORE.items():
            for item in kinds[split]:
                for buyer in rng.sample(POLICE[split], 2):
                    add(split, "core", item, buyer, category)
        for item in RELATED[split]:
            for buyer in rng.sample(POLICE[split], 3):
                add(split, "related", item, buyer)
        for buyers, items in HARD_NEGATIVES[split]:
            for item in items:
                for buyer in buyers:
                    add(split, "irrelevant", item, buyer)
    return rows


def main() -> None:
    rows = labelled_rows()
    with open(OUT, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[row["split"], row["label"]] = counts.get((row["split"], row["label"]), 0) + 1
    print(OUT, len(rows), dict(sorted(counts.items())))


if __name__ == "__main__":
    main()
