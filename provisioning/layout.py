"""Flash layout of the sticker: MicroPython's ESP32-S3 partition table for 4 MiB flash.

The MicroPython image (bootloader, partition table and application) starts at
0x0; the file system partition "vfs" (littlefs v2) takes the upper 2 MiB.
MicroPython mounts it only when the littlefs block count equals the partition
size, so the station packs a full-size image.
"""

FLASH_SIZE = 4 * 1024 * 1024
FIRMWARE_OFFSET = 0x0
VFS_OFFSET = 0x200000
VFS_SIZE = 0x200000
VFS_BLOCK_SIZE = 4096
# First byte of every ESP application and bootloader image.
ESP_IMAGE_MAGIC = 0xE9
